"""Mini-batches from an :class:`EncodedSplit`: seeded shuffling, padding only to the batch's longest row.

The shuffle order of epoch ``e`` depends only on ``(seed, e)``, so a run resumed at epoch ``e`` sees
exactly the batches an uninterrupted run would have seen, with no generator state to checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from pipelines.text.sequences import EncodedSplit
from pipelines.text.vocab import PAD_ID


def pad_batch(split: EncodedSplit, rows: np.ndarray, min_length: int = 1) -> torch.Tensor:
    lengths = split.lengths[rows]
    width = max(int(lengths.max()) if len(rows) else 1, min_length, 1)
    batch = np.full((len(rows), width), PAD_ID, dtype=np.int64)
    for position, row in enumerate(rows):
        sequence = split.sequence(row)
        batch[position, : len(sequence)] = sequence
    return torch.from_numpy(batch)


def iterate_batches(
    split: EncodedSplit, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0, min_length: int = 1
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    order = np.arange(len(split))
    if shuffle:
        order = np.random.default_rng([seed, epoch]).permutation(order)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        yield pad_batch(split, rows, min_length), torch.from_numpy(split.labels[rows])
