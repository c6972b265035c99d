"""TextCNN (Kim 2014): parallel 1-D convolutions of several widths over word embeddings, max-over-time
pooling, dropout, and a linear layer whose weight rows are kept within an L2 ``max_norm``."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pipelines.models.embedding import build_embedding


class TextCNN(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        dim: int,
        kernel_sizes: list[int],
        num_filters: int,
        dropout: float,
        max_norm: float,
        embedding_init: str = "rand",
        vectors: np.ndarray | None = None,
    ):
        super().__init__()
        self.embedding = build_embedding(vocab_size, dim, embedding_init, vectors)
        self.convolutions = nn.ModuleList(nn.Conv1d(dim, num_filters, size) for size in kernel_sizes)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(num_filters * len(kernel_sizes), num_classes)
        self.max_norm = max_norm
        self.min_length = max(kernel_sizes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        embedded = self.embedding(ids).transpose(1, 2)
        pooled = [torch.relu(convolution(embedded)).amax(dim=2) for convolution in self.convolutions]
        return self.output(self.dropout(torch.cat(pooled, dim=1)))

    @torch.no_grad()
    def apply_constraints(self) -> None:
        if self.max_norm > 0:
            self.output.weight.copy_(torch.renorm(self.output.weight, p=2, dim=0, maxnorm=self.max_norm))
