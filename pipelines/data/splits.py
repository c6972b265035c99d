"""Seeded stratified hold-out splits, for datasets published without a validation or test split."""

from __future__ import annotations

import numpy as np
import pandas as pd


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
