"""Mini-batches from an :class:`EncodedSplit`: seeded shuffling, texts of similar length batched together,
padding only to the batch's longest row.

The batch order of epoch ``e`` depends only on ``(seed, e)``, so a run resumed at epoch ``e`` sees exactly
the batches an uninterrupted run would have seen, with no generator state to checkpoint.

Length buckets: a shuffled epoch is cut into pools of :data:`POOL_BATCHES` batches; each pool is sorted by
length and cut into batches, and the batches are shuffled. Batches stay random (a pool is a random sample)
while their rows have similar lengths, so a batch of short questions is no longer padded to the one long
question that happened to land in it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from pipelines.text.sequences import EncodedSplit
from pipelines.text.vocab import PAD_ID

POOL_BATCHES = 50


def pad_batch(split: EncodedSplit, rows: np.ndarray, min_length: int = 1) -> torch.Tensor:
    """The rows' ids, PAD after each row's end, as wide as the longest row (at least ``min_length``).

    One gather over the flat id array, not a copy per row: 3.2x faster over an epoch of SST-2's 77k short
    phrases (``benchmarks/batching.py``), where per-row overhead adds up."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = split.offsets[rows]
    lengths = split.offsets[rows + 1] - starts
    width = max(int(lengths.max()) if len(rows) else 1, min_length, 1)
    positions = np.arange(width)
    inside = positions < lengths[:, None]
    if not split.ids.size:
        return torch.full((len(rows), width), PAD_ID, dtype=torch.int64)
    gathered = split.ids[np.minimum(starts[:, None] + positions, split.ids.size - 1)]
    return torch.from_numpy(np.where(inside, gathered, PAD_ID).astype(np.int64))


def batch_rows(
    lengths: np.ndarray, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0, length_buckets: bool = True
) -> list[np.ndarray]:
    """Row indices of every batch of one epoch; each row appears exactly once.

    Without shuffling (prediction) and with ``length_buckets``, rows are simply sorted by length: the caller
    puts the outputs back in row order."""
    order = np.arange(len(lengths))
    if not shuffle:
        if length_buckets:
            order = np.argsort(lengths, kind="stable")
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(order)
    if not length_buckets:
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    batches = []
    pool_size = batch_size * POOL_BATCHES
    for pool_start in range(0, len(order), pool_size):
        pool = order[pool_start : pool_start + pool_size]
        pool = pool[np.argsort(lengths[pool], kind="stable")]
        batches.extend(pool[start : start + batch_size] for start in range(0, len(pool), batch_size))
    return [batches[index] for index in rng.permutation(len(batches))]


def iterate_batches(
    split: EncodedSplit,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    epoch: int = 0,
    min_length: int = 1,
    length_buckets: bool = True,
) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
    """(rows, padded ids, labels) per batch."""
    for rows in batch_rows(
        split.lengths, batch_size, shuffle=shuffle, seed=seed, epoch=epoch, length_buckets=length_buckets
    ):
        yield rows, pad_batch(split, rows, min_length), torch.from_numpy(split.labels[rows])
