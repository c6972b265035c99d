"""A recurrent language model (Zaremba et al. 2014; pytorch/examples word_language_model): embedding, a
stack of RNN/GRU/LSTM layers with dropout between them, a linear decoder over the vocabulary, optionally tied
to the embedding (Press & Wolf 2017). Sampling continues a prefix token by token with temperature and top-k."""

from __future__ import annotations

from typing import get_args

import torch
from torch import nn

from pipelines.config import LanguageModelParams, RecurrentCell

CELLS = dict(zip(get_args(RecurrentCell), (nn.RNN, nn.GRU, nn.LSTM), strict=True))
INIT_RANGE = 0.1  # Zaremba's uniform initialisation


class RecurrentLanguageModel(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        cell: str,
        embedding_dim: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        tied: bool = False,
    ):
        super().__init__()
        if tied and embedding_dim != hidden_size:
            raise ValueError(f"tied weights need embedding_dim == hidden_size, got {embedding_dim} and {hidden_size}")
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.dropout = nn.Dropout(dropout)
        self.rnn = CELLS[cell](
            embedding_dim, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0, batch_first=True
        )
        self.decoder = nn.Linear(hidden_size, vocab_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -INIT_RANGE, INIT_RANGE)
        nn.init.zeros_(self.decoder.bias)
        if tied:
            self.decoder.weight = self.embedding.weight

    def forward(self, ids: torch.Tensor, state: object = None) -> tuple[torch.Tensor, object]:
        """``ids`` [batch, time] -> (logits [batch, time, vocab], recurrent state to carry on)."""
        outputs, state = self.rnn(self.dropout(self.embedding(ids)), state)
        return self.decoder(self.dropout(outputs)), state


def build_language_model(params: LanguageModelParams, vocab_size: int) -> RecurrentLanguageModel:
    return RecurrentLanguageModel(
        vocab_size,
        params.cell,
        params.embedding_dim,
        params.hidden_size,
        params.num_layers,
        params.dropout,
        params.tied,
    )


@torch.no_grad()
def sample(
    model: RecurrentLanguageModel,
    prefix: list[int],
    tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    banned: tuple[int, ...] = (),
) -> list[int]:
    """``tokens`` ids sampled after ``prefix`` (on the model's device, in eval mode). ``top_k`` 0 samples from
    the whole vocabulary; ``banned`` ids (padding, unknown) are never drawn. Same seed, same continuation."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if not prefix:
        raise ValueError("an empty prefix: give at least one token to continue")
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device="cpu").manual_seed(seed)
    logits, state = model(torch.tensor([prefix], device=device))
    generated: list[int] = []
    for _ in range(tokens):
        scores = logits[0, -1].float().cpu() / temperature
        if banned:
            scores[list(banned)] = float("-inf")
        if 0 < top_k < scores.numel():
            threshold = torch.topk(scores, top_k).values[-1]
            scores[scores < threshold] = float("-inf")
        token = int(torch.multinomial(torch.softmax(scores, dim=0), 1, generator=generator))
        generated.append(token)
        logits, state = model(torch.tensor([[token]], device=device), state)
    return generated
