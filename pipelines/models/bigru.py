"""Bidirectional GRU classifier: packed sequences (padding never enters the recurrence), max-pooling of the
hidden states over real positions, dropout, linear."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from pipelines.models.embedding import build_embedding, padding_mask


class BiGRU(nn.Module):
    min_length = 1

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        dim: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        embedding_init: str = "rand",
        vectors: np.ndarray | None = None,
    ):
        super().__init__()
        self.embedding = build_embedding(vocab_size, dim, embedding_init, vectors)
        self.rnn = nn.GRU(
            dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = padding_mask(ids)
        lengths = mask.sum(dim=1).clamp(min=1).cpu()
        packed = pack_padded_sequence(
            self.dropout(self.embedding(ids)), lengths, batch_first=True, enforce_sorted=False
        )
        states, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=ids.shape[1])
        states = states.masked_fill(~mask.unsqueeze(-1), torch.finfo(states.dtype).min)
        return self.output(self.dropout(states.amax(dim=1)))
