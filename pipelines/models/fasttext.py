"""fastText-style classifier (Joulin et al. 2017): the mean of word and hashed-bigram embeddings, then a
linear layer. Bigrams are hashed into ``bigram_buckets`` extra rows so memory does not grow with the
number of distinct bigrams.

``sparse``: the embedding's gradient holds only the rows a batch used, so with plain SGD a step costs the
batch's rows, not the table's (fastText's own 100 dims x 2M buckets is 200M weights; a dense Adam step
touches all of them).

``initialization="fasttext"`` starts as the fastText binary does (``src/fasttext.cc``): input rows from
U[-1/dim, 1/dim] and a zero output layer. With 2M buckets most bigram rows are seen once or never, so under the
U[-0.25, 0.25] start every model here shares, a text's mean is mostly the untrained noise of its bigrams.
Rows copied from the embed stage's vectors keep them."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pipelines.models.embedding import RAND_SCALE, build_embedding, padding_mask
from pipelines.text.vocab import PAD_ID

BIGRAM_PRIME = 116_049_371


class FastTextClassifier(nn.Module):
    min_length = 1

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        dim: int,
        bigram_buckets: int,
        dropout: float,
        embedding_init: str = "rand",
        vectors: np.ndarray | None = None,
        sparse: bool = False,
        initialization: str = "kim",
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.bigram_buckets = bigram_buckets
        random_scale = 1.0 / dim if initialization == "fasttext" else RAND_SCALE
        self.embedding = build_embedding(vocab_size + bigram_buckets, dim, embedding_init, vectors, random_scale)
        for table in self.embedding.modules():
            if isinstance(table, nn.Embedding):
                table.sparse = sparse
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(dim, num_classes)
        if initialization == "fasttext":
            nn.init.zeros_(self.output.weight)
            nn.init.zeros_(self.output.bias)

    def bigram_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """Bucket ids (offset past the vocabulary) of adjacent token pairs; pairs touching padding -> PAD."""
        left, right = ids[:, :-1], ids[:, 1:]
        hashed = (left * BIGRAM_PRIME + right) % self.bigram_buckets + self.vocab_size
        return torch.where((left != PAD_ID) & (right != PAD_ID), hashed, torch.full_like(hashed, PAD_ID))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if self.bigram_buckets and ids.shape[1] > 1:
            ids = torch.cat([ids, self.bigram_ids(ids)], dim=1)
        mask = padding_mask(ids).unsqueeze(-1).to(self.embedding.weight.dtype)
        summed = (self.embedding(ids) * mask).sum(dim=1)
        mean = summed / mask.sum(dim=1).clamp(min=1.0)
        return self.output(self.dropout(mean))
