"""Batches for a language model: one token stream cut into windows of ``bptt`` tokens.

``sequential`` (stateful): the stream is laid out as ``batch_size`` contiguous rows, and batch ``i`` holds
columns ``i*bptt ... (i+1)*bptt`` of every row, so row ``r`` of consecutive batches continues the same text and
the recurrent state can be carried from one batch to the next (detached). ``random``: every window starts at a
random offset, so windows are independent and each starts from a fresh state. The order of epoch ``e`` depends
only on ``(seed, e)``, as for classifiers, so a resumed run sees the batches an uninterrupted one would have.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


def stream_rows(stream: np.ndarray, batch_size: int) -> np.ndarray:
    """``stream`` as [batch_size, length // batch_size] contiguous rows; the remainder is dropped."""
    width = len(stream) // batch_size
    if width < 2:
        raise ValueError(
            f"{len(stream)} tokens cannot fill {batch_size} rows of at least 2 tokens; lower train.batch_size"
        )
    return np.ascontiguousarray(stream[: width * batch_size].reshape(batch_size, width))


def sequential_batches(stream: np.ndarray, batch_size: int, bptt: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(inputs, targets) [batch_size, <= bptt]: targets are the inputs shifted by one token."""
    rows = torch.from_numpy(stream_rows(stream, batch_size).astype(np.int64))
    for start in range(0, rows.shape[1] - 1, bptt):
        end = min(start + bptt, rows.shape[1] - 1)
        yield rows[:, start:end], rows[:, start + 1 : end + 1]


def random_batches(
    stream: np.ndarray, batch_size: int, bptt: int, *, seed: int, epoch: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """As many windows as a sequential epoch has tokens, each at a random offset."""
    windows = len(stream) - 1 - bptt
    if windows < 1:
        raise ValueError(f"{len(stream)} tokens are fewer than language_model.bptt + 2 ({bptt + 2})")
    rng = np.random.default_rng([seed, epoch])
    source = torch.from_numpy(stream.astype(np.int64))
    for _ in range(batch_count(stream, batch_size, bptt)):
        starts = torch.from_numpy(rng.integers(0, windows + 1, size=batch_size))
        index = starts[:, None] + torch.arange(bptt + 1)
        window = source[index]
        yield window[:, :-1], window[:, 1:]


def batch_count(stream: np.ndarray, batch_size: int, bptt: int) -> int:
    width = len(stream) // batch_size
    return max(1, -(-(width - 1) // bptt))
