"""The sweep: a grid of training params, one training per combination, the best through the register gate.

The upstream stages run once and every combination's workspace restores them from DVC's run-cache, so a grid
may vary only keys that no upstream stage reads. Which keys those are is read from dvc.yaml (each stage's
``params:``), never listed here: ``dataset.seed`` or ``model.embedding_init`` (read by embed) are refused,
``train.seed`` and ``model.type`` are sweepable. The grid's size is bounded because every combination holds
a training slot.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipelines.common.io import read_json
from pipelines.config import ConfigError, flatten, load_params, params_from_dict
from pipelines.orchestration.form import merged_params
from pipelines.tasks import get_task

MAX_COMBINATIONS = 16


def reads(stage_params: Iterable[str], key: str) -> bool:
    """Whether a stage whose dvc.yaml ``params:`` are ``stage_params`` reads the dotted ``key``."""
    return any(key == param or key.startswith(param + ".") for param in stage_params)


def expand_grid(
    grid: dict[str, list[Any]],
    committed: dict[str, Any],
    upstream_params: Iterable[str],
    limit: int = MAX_COMBINATIONS,
) -> list[dict[str, Any]]:
    """Every combination of ``grid`` as dotted overrides, each validated like params.yaml. ``committed`` is
    the run commit's params.yaml; ``upstream_params`` the params of the stages that run once."""
    if not grid:
        raise ConfigError("sweep grid is empty; give e.g. {'model.type': ['textcnn', 'bigru']}")
    known = flatten(params_from_dict(committed, source="params.yaml", resolve=False))
    upstream_params = list(upstream_params)
    for key, values in grid.items():
        if key not in known:
            raise ConfigError(f"sweep grid: unknown key '{key}'; use dotted params.yaml keys like 'model.type'")
        if reads(upstream_params, key):
            raise ConfigError(
                f"sweep grid: '{key}' is read by a stage before train (see dvc.yaml), which a sweep runs once; "
                "vary keys that only train and later stages read, e.g. model.type, train.learning_rate, train.seed"
            )
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
        params_from_dict(merged_params(committed, overrides), source="sweep grid")
    return combinations


def best_training(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The result with the best validation score in its task's direction (macro-F1 up, perplexity down);
    ties: the earliest combination."""
    higher = results[0]["higher_is_better"]
    return max(results, key=lambda result: ((1 if higher else -1) * result["score"], -result["index"]))


def training_result(workspace: Path, index: int, spec: dict[str, Any]) -> dict[str, Any]:
    """What a combination's task hands on: its score on the metric the register gate decides on (the task's
    selection: ``register.metric`` of the evaluate stage's validation scores, or validation perplexity), so the
    sweep sends the gate the combination the gate itself would rank first; and the run spec that rebuilds its
    workspace on any worker."""
    params = load_params(workspace / "params.yaml")
    selection = get_task(params).selection(params)
    validation = read_json(workspace / "reports" / "metrics.json")["valid"]
    run = read_json(workspace / "reports" / "mlflow_run.json")
    return {
        "index": index,
        "spec": spec,
        "overrides": spec["overrides"],
        "run_id": run.get("run_id"),
        "metric": f"validation_{selection.metric}",
        "higher_is_better": selection.higher_is_better,
        "score": validation[selection.metric],
    }
