"""GloVe (Pennington, Socher & Manning 2014) in torch: co-occurrence counts, then weighted least squares.

Counts: for every pair of words at distance ``d <= window`` inside one sentence, ``X[i, j]`` and ``X[j, i]``
grow by ``1 / d`` (the reference implementation's distance weighting). Counting is vectorised over the whole
corpus (one offset at a time, pairs that would cross a sentence boundary masked), so it costs numpy passes,
not a Python loop per pair.

Objective: ``sum f(X_ij) (w_i . c_j + b_i + c_j' - log X_ij)^2`` over the non-zero entries, with
``f(x) = min(1, (x / x_max) ** alpha)``; AdaGrad as in the paper, shuffled mini-batches of entries, sparse
embedding gradients so a step touches only the rows in its batch. The vectors are ``w + c`` (the paper's
choice). Runs on CUDA when ``device`` is one; deterministic on CPU for a seed.

The result is a gensim ``KeyedVectors``, so it is aligned to the vocabulary and scored exactly like the
word2vec and FastText vectors.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pipelines.common.progress import on_terminal

log = logging.getLogger("embed")

BATCH_SIZE = 8192
"""Entries per step. Not a param: like gensim's ``batch_words`` it trades speed for nothing users tune."""


@dataclass(frozen=True)
class Cooccurrence:
    words: list[str]
    rows: np.ndarray
    columns: np.ndarray
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.counts)


def count_cooccurrences(sentences: Sequence[Sequence[str]], window: int, min_count: int) -> Cooccurrence:
    """Distance-weighted symmetric co-occurrence counts of the words seen at least ``min_count`` times
    (rarer words are dropped before pairing, as gensim drops them, so they do not shorten distances)."""
    frequency = Counter(token for sentence in sentences for token in sentence)
    words = sorted((word for word, count in frequency.items() if count >= min_count), key=lambda w: (-frequency[w], w))
    index = {word: position for position, word in enumerate(words)}
    kept = [[index[token] for token in sentence if token in index] for sentence in sentences]
    ids = np.fromiter((token for sentence in kept for token in sentence), dtype=np.int64)
    sentence_of = np.repeat(np.arange(len(kept)), [len(sentence) for sentence in kept])
    keys, weights = [], []
    size = len(words)
    for distance in range(1, window + 1):
        same = sentence_of[distance:] == sentence_of[:-distance]
        left, right = ids[:-distance][same], ids[distance:][same]
        weight = np.full(len(left), 1.0 / distance)
        keys += [left * size + right, right * size + left]
        weights += [weight, weight]
    if not any(len(part) for part in keys):
        return Cooccurrence(words, np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))
    unique, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    counts = np.bincount(inverse, weights=np.concatenate(weights))
    return Cooccurrence(words, unique // size, unique % size, counts)


class GloVe(torch.nn.Module):
    def __init__(self, words: int, dim: int):
        super().__init__()
        self.word = torch.nn.Embedding(words, dim, sparse=True)
        self.context = torch.nn.Embedding(words, dim, sparse=True)
        self.word_bias = torch.nn.Embedding(words, 1, sparse=True)
        self.context_bias = torch.nn.Embedding(words, 1, sparse=True)
        for table in (self.word, self.context):
            torch.nn.init.uniform_(table.weight, -0.5 / dim, 0.5 / dim)
        for table in (self.word_bias, self.context_bias):
            torch.nn.init.zeros_(table.weight)

    def forward(self, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        dot = (self.word(rows) * self.context(columns)).sum(dim=1)
        return dot + self.word_bias(rows).squeeze(1) + self.context_bias(columns).squeeze(1)

    def vectors(self) -> np.ndarray:
        return (self.word.weight + self.context.weight).detach().cpu().numpy().astype(np.float32)


def train_glove(
    sentences: Sequence[Sequence[str]],
    dim: int,
    window: int,
    min_count: int,
    epochs: int,
    x_max: float,
    alpha: float,
    learning_rate: float,
    seed: int,
    device: torch.device | str = "cpu",
) -> Any:
    """GloVe vectors of ``sentences`` as gensim ``KeyedVectors`` (empty when no word pair co-occurs)."""
    from gensim.models import KeyedVectors
    from tqdm import tqdm

    device = torch.device(device)
    counts = count_cooccurrences(sentences, window, min_count)
    keyed = KeyedVectors(vector_size=dim)
    if not len(counts):
        log.warning("GloVe: no two words co-occur within %d tokens; no vectors trained", window)
        return keyed
    log.info("GloVe: %d words, %d non-zero co-occurrences", len(counts.words), len(counts))
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = GloVe(len(counts.words), dim).to(device)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=learning_rate)
    warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")
    rows = torch.from_numpy(counts.rows).to(device)
    columns = torch.from_numpy(counts.columns).to(device)
    values = torch.from_numpy(counts.counts).to(device=device, dtype=torch.float32)
    target = torch.log(values)
    weight = torch.clamp(values / x_max, max=1.0) ** alpha
    bar = tqdm(total=epochs, desc="glove", unit="epoch", leave=False, disable=not on_terminal())
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(counts), generator=generator).to(device)
        total = 0.0
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            error = model(rows[batch], columns[batch]) - target[batch]
            loss = (weight[batch] * error.pow(2)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        bar.update(1)
        if not on_terminal():
            log.info("glove epoch %d/%d, loss %.4f", epoch, epochs, total / len(counts))
    bar.close()
    keyed.add_vectors(counts.words, model.vectors())
    return keyed
