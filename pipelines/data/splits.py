"""Seeded stratified hold-out splits and cross-validation folds, for datasets published without a
validation or test split."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.data.registry import SPLITS


def stratified_split(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (kept, held_out) with ``fraction`` of every class held out, original row order preserved.

    Each class with at least two rows keeps at least one row and gives at least one, so no class vanishes
    from either side; a single-row class stays in ``kept``.
    """
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for _, positions in sorted(frame.groupby("label", sort=True).indices.items()):
        count = len(positions)
        take = min(max(round(count * fraction), 1), count - 1) if count >= 2 else 0
        held.extend(rng.permutation(positions)[:take].tolist())
    mask = np.zeros(len(frame), dtype=bool)
    mask[held] = True
    return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)


def complete_splits(
    splits: dict[str, pd.DataFrame], valid_fraction: float, test_fraction: float, seed: int
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Carve the missing ``test`` then ``valid`` split out of ``train``; return the splits and the names created."""
    splits, created = dict(splits), []
    if "test" not in splits:
        splits["train"], splits["test"] = stratified_split(splits["train"], test_fraction, seed)
        created.append("test")
    if "valid" not in splits:
        splits["train"], splits["valid"] = stratified_split(splits["train"], valid_fraction, seed + 1)
        created.append("valid")
    return {split: splits[split] for split in SPLITS}, created


def stratified_folds(labels: pd.Series, folds: int, seed: int) -> np.ndarray:
    """Fold number (0..folds-1) of every row: each class dealt round-robin over the folds in a seeded order,
    so every fold holds about 1/folds of every class."""
    rng = np.random.default_rng(seed)
    labels = labels.reset_index(drop=True)
    assignment = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for _, positions in sorted(labels.groupby(labels).indices.items()):
        shuffled = rng.permutation(positions)
        assignment[shuffled] = (np.arange(len(shuffled)) + offset) % folds
        offset += len(shuffled)
    return assignment
