"""The sweep: a grid of training params, one training per combination, the best through the register gate.

Only keys that change training alone (``model.*``, ``train.*``, ``seed``) may vary, so every combination
shares the upstream stages: they run once, and each combination's workspace restores them from DVC's
run-cache instead of recomputing. The grid's size is bounded because every combination holds a GPU slot.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from pipelines.config import ConfigError, flatten, load_params
from pipelines.io import read_json

MAX_COMBINATIONS = 16
SWEEPABLE_PREFIXES = ("model.", "train.")
SWEEPABLE_KEYS = ("seed",)


def expand_grid(grid: dict[str, list[Any]], params_file: Path, limit: int = MAX_COMBINATIONS) -> list[dict[str, Any]]:
    """Every combination of ``grid`` as dotted overrides, each validated like params.yaml."""
    if not grid:
        raise ConfigError("sweep grid is empty; give e.g. {'model.type': ['textcnn', 'bigru']}")
    known = flatten(load_params(params_file))
    for key, values in grid.items():
        if key not in known:
            raise ConfigError(f"sweep grid: unknown key '{key}'; use dotted params.yaml keys like 'model.type'")
        if not (key.startswith(SWEEPABLE_PREFIXES) or key in SWEEPABLE_KEYS):
            raise ConfigError(f"sweep grid: '{key}' changes upstream stages; a sweep varies model.*, train.* or seed")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep grid: '{key}' needs a non-empty list of values, got {values!r}")
    size = 1
    for values in grid.values():
        size *= len(values)
    if size > limit:
        raise ConfigError(
            f"sweep grid has {size} combinations; the limit is {limit}. Narrow the grid or split the sweep"
        )
    combinations = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    for overrides in combinations:
        load_params(params_file, overrides)
    return combinations


def best_training(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The result with the highest validation accuracy (ties: the earliest combination)."""
    return max(results, key=lambda result: (result["best_valid_accuracy"], -result["index"]))


def training_result(workspace: Path, index: int, overrides: dict[str, Any]) -> dict[str, Any]:
    train = read_json(workspace / "reports" / "train.json")
    run = read_json(workspace / "reports" / "mlflow_run.json")
    return {
        "index": index,
        "workspace": str(workspace),
        "overrides": overrides,
        "run_id": run.get("run_id"),
        "best_valid_accuracy": train["best_valid_accuracy"],
    }
