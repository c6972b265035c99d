"""The token-embedding layer shared by every model, initialised as Kim (2014) describes.

``rand``: random init U[-0.25, 0.25], trained. ``static``: copied from the embed stage's matrix and frozen.
``non-static``: copied and fine-tuned. Row 0 (``<pad>``) is the padding index and stays zero.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pipelines.text.vocab import PAD_ID

EMBEDDING_INITS = ("rand", "static", "non-static")
# Kim (2014) draws random vectors from U[-a, a] with a chosen so their variance matches word2vec's; PyTorch's
# default N(0, 1) is about 50x larger in variance and overfits small sets like TREC quickly.
RAND_SCALE = 0.25


def build_embedding(num_embeddings: int, dim: int, init: str, vectors: np.ndarray | None) -> nn.Embedding:
    embedding = nn.Embedding(num_embeddings, dim, padding_idx=PAD_ID)
    with torch.no_grad():
        embedding.weight.uniform_(-RAND_SCALE, RAND_SCALE)
        embedding.weight[PAD_ID] = 0.0
    if init == "rand":
        return embedding
    if init not in EMBEDDING_INITS:
        raise ValueError(f"unknown embedding init {init!r}; known: {', '.join(EMBEDDING_INITS)}")
    if vectors is None or vectors.shape[1] != dim or vectors.shape[0] > num_embeddings:
        shape = None if vectors is None else vectors.shape
        raise ValueError(
            f"embedding init {init!r} needs a [<= {num_embeddings}, {dim}] matrix from the embed stage, got {shape}"
        )
    with torch.no_grad():
        embedding.weight[: vectors.shape[0]] = torch.from_numpy(vectors)
        embedding.weight[PAD_ID] = 0.0
    embedding.weight.requires_grad = init == "non-static"
    return embedding


def padding_mask(ids: torch.Tensor) -> torch.Tensor:
    """True where a position holds a real token."""
    return ids != PAD_ID
