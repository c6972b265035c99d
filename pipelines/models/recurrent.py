"""Bidirectional GRU / LSTM classifier over packed sequences (padding never enters the recurrence), with
the hidden states pooled by max over real positions or by additive attention (Yang et al. 2016: a learned
query scores every position, a masked softmax weights them), then dropout and a linear layer."""

from __future__ import annotations

from typing import get_args

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from pipelines.config import Pooling
from pipelines.models.embedding import build_embedding, padding_mask

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}
POOLINGS: tuple[str, ...] = get_args(Pooling)


class AttentionPooling(nn.Module):
    def __init__(self, size: int):
        super().__init__()
        self.project = nn.Linear(size, size)
        self.query = nn.Linear(size, 1, bias=False)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.query(torch.tanh(self.project(states))).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~mask, torch.finfo(scores.dtype).min), dim=1)
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1)


class RecurrentClassifier(nn.Module):
    min_length = 1

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        dim: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        cell: str = "gru",
        pooling: str = "max",
        embedding_init: str = "rand",
        vectors: np.ndarray | None = None,
    ):
        super().__init__()
        if cell not in CELLS or pooling not in POOLINGS:
            raise ValueError(f"cell must be one of {sorted(CELLS)} and pooling one of {POOLINGS}")
        self.embedding = build_embedding(vocab_size, dim, embedding_init, vectors)
        self.rnn = CELLS[cell](
            dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.attention = AttentionPooling(2 * hidden_size) if pooling == "attention" else None
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = padding_mask(ids)
        lengths = mask.sum(dim=1).clamp(min=1).cpu()
        packed = pack_padded_sequence(
            self.dropout(self.embedding(ids)), lengths, batch_first=True, enforce_sorted=False
        )
        states, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=ids.shape[1])
        if self.attention is not None:
            pooled = self.attention(states, mask)
        else:
            pooled = states.masked_fill(~mask.unsqueeze(-1), torch.finfo(states.dtype).min).amax(dim=1)
        return self.output(self.dropout(pooled))
