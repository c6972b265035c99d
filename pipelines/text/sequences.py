"""Token-id sequences of one split, stored ragged: a flat id array plus offsets.

One flat int32 array is compact, loads in one read and needs no padding on disk; sequence ``i`` is
``ids[offsets[i]:offsets[i + 1]]``. Padding happens per batch at training time, to the batch's maximum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.common.io import save_arrays


@dataclass
class EncodedSplit:
    ids: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray

    @classmethod
    def from_lists(cls, sequences: Sequence[Sequence[int]], labels: Sequence[int]) -> EncodedSplit:
        lengths = np.fromiter((len(sequence) for sequence in sequences), dtype=np.int64, count=len(sequences))
        flat = np.fromiter(
            (token for sequence in sequences for token in sequence), dtype=np.int32, count=int(lengths.sum())
        )
        return cls.from_arrays(flat, lengths, labels)

    @classmethod
    def from_arrays(cls, ids: np.ndarray, lengths: np.ndarray, labels: Sequence[int]) -> EncodedSplit:
        """From the flat ids and each sequence's length."""
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(np.asarray(ids, dtype=np.int32), offsets, np.asarray(labels, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def sequence(self, index: int) -> np.ndarray:
        return self.ids[self.offsets[index] : self.offsets[index + 1]]

    def save(self, path: str | Path) -> None:
        save_arrays(path, ids=self.ids, offsets=self.offsets, labels=self.labels)

    @classmethod
    def load(cls, path: str | Path) -> EncodedSplit:
        with np.load(path) as data:
            return cls(data["ids"], data["offsets"], data["labels"])
