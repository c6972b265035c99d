"""The token-embedding layer shared by every word model, initialised as Kim (2014) describes.

``rand``: random init U[-0.25, 0.25], trained. ``static``: copied from the embed stage's matrix and frozen.
``non-static``: copied and fine-tuned. ``multichannel``: two copies, one frozen and one fine-tuned, added.
Row 0 (``<pad>``) is the padding index and stays zero. ``random_scale`` is the half-width of the uniform start
of every row not copied from vectors: Kim's 0.25 unless a model starts as its own reference does (fastText: 1/dim).

Why adding is Kim's multichannel: Kim applies every filter to both channels and adds the results. Every model
here starts with a linear map of the embeddings (a convolution, a mean, an RNN's input projection), and a
linear map of a sum is the sum of the maps, so ``static(ids) + tuned(ids)`` is the same model at half the cost.
"""

from __future__ import annotations

from typing import get_args

import numpy as np
import torch
from torch import nn

from pipelines.config import EmbeddingInit
from pipelines.text.vocab import PAD_ID

EMBEDDING_INITS: tuple[str, ...] = get_args(EmbeddingInit)
# Kim (2014) draws random vectors from U[-a, a] with a chosen so their variance matches word2vec's; PyTorch's
# default N(0, 1) is about 50x larger in variance and overfits small sets like TREC quickly.
RAND_SCALE = 0.25


class MultichannelEmbedding(nn.Module):
    """A frozen and a fine-tuned copy of the same vectors, looked up together and added."""

    def __init__(self, static: nn.Embedding, tuned: nn.Embedding):
        super().__init__()
        self.static, self.tuned = static, tuned

    @property
    def weight(self) -> torch.Tensor:
        return self.tuned.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.static(ids) + self.tuned(ids)


def build_embedding(
    num_embeddings: int, dim: int, init: str, vectors: np.ndarray | None, random_scale: float = RAND_SCALE
) -> nn.Module:
    if init not in EMBEDDING_INITS:
        raise ValueError(f"unknown embedding init {init!r}; known: {', '.join(EMBEDDING_INITS)}")
    if init == "rand":
        return _random_embedding(num_embeddings, dim, random_scale)
    if vectors is None or vectors.shape[1] != dim or vectors.shape[0] > num_embeddings:
        shape = None if vectors is None else vectors.shape
        raise ValueError(
            f"embedding init {init!r} needs a [<= {num_embeddings}, {dim}] matrix from the embed stage, got {shape}"
        )
    if init == "multichannel":
        static = _pretrained_embedding(num_embeddings, dim, vectors, random_scale, trainable=False)
        tuned = _pretrained_embedding(num_embeddings, dim, vectors, random_scale, trainable=True)
        return MultichannelEmbedding(static, tuned)
    return _pretrained_embedding(num_embeddings, dim, vectors, random_scale, trainable=init == "non-static")


def _random_embedding(num_embeddings: int, dim: int, scale: float) -> nn.Embedding:
    embedding = nn.Embedding(num_embeddings, dim, padding_idx=PAD_ID)
    with torch.no_grad():
        embedding.weight.uniform_(-scale, scale)
        embedding.weight[PAD_ID] = 0.0
    return embedding


def _pretrained_embedding(
    num_embeddings: int, dim: int, vectors: np.ndarray, random_scale: float, trainable: bool
) -> nn.Embedding:
    """Rows beyond the matrix (fastText's bigram buckets) keep their random init."""
    embedding = _random_embedding(num_embeddings, dim, random_scale)
    with torch.no_grad():
        embedding.weight[: vectors.shape[0]] = torch.from_numpy(vectors)
        embedding.weight[PAD_ID] = 0.0
    embedding.weight.requires_grad = trainable
    return embedding


def padding_mask(ids: torch.Tensor) -> torch.Tensor:
    """True where a position holds a real token."""
    return ids != PAD_ID
