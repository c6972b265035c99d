"""The sweep: trainings in rounds, the best through the register gate. ``grid`` mode is one round of every
combination of a grid; ``search`` mode is up to :data:`SEARCH_ROUNDS` rounds of ``search.parallel`` trials, each
round proposed by TPE from every earlier trial's result (pipelines/search/), until ``search.trials`` or
``search.minutes`` is spent.

The stages before train run once with the run's own params, and every training's workspace restores them from
DVC's run-cache; a training that varies a key one of them reads (``clean.style``, ``tokenize.method``,
``model.embedding_init``) re-runs that stage and those after it, once per value, the run-cache sharing it with
the trainings of the same value. What no training may vary is what decides the splits (validate and the stages
before it: ``dataset.*``, ``validate.*``), or the trainings would be validated on different examples. Which keys
those are is read from dvc.yaml (each stage's ``params:``; :func:`pipelines.config.pipeline.split_params`), never
listed here. The grid's size is bounded because every combination holds a training slot.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipelines.common.io import read_json
from pipelines.config import ConfigError, Params, SearchParams, flatten, load_params, merged_params, params_from_dict
from pipelines.config.pipeline import refuse_split_key
from pipelines.search import pruning
from pipelines.search.space import check_space
from pipelines.search.study import COMPLETE, PRUNED, propose, refit_overrides
from pipelines.tasks import get_task

MAX_COMBINATIONS = 16
SEARCH_ROUNDS = 10
"""Rounds the sweep DAG holds (Airflow's task graph is fixed when the DAG is parsed); a search needs at most
``ceil(search.trials / search.parallel)`` of them, and the rounds it does not need are skipped."""
MODES = ("grid", "search")
SEARCH_PREFIX = "search."
TRIAL_FILE = "search_trial.json"
"""A search trial's file in its workspace (outside every DVC output), read by its train stage."""


def expand_grid(
    grid: dict[str, list[Any]],
    committed: dict[str, Any],
    split_stage_params: Iterable[str],
    limit: int = MAX_COMBINATIONS,
) -> list[dict[str, Any]]:
    """Every combination of ``grid`` as dotted overrides, each validated like params.yaml. ``committed`` is
    the run commit's params.yaml; ``split_stage_params`` the params of the stages that make the splits."""
    if not grid:
        raise ConfigError("sweep grid is empty; give e.g. {'model.type': ['textcnn', 'bigru']}")
    known = flatten(params_from_dict(committed, source="params.yaml", resolve=False))
    split_stage_params = list(split_stage_params)
    for key, values in grid.items():
        if key not in known:
            raise ConfigError(f"sweep grid: unknown key '{key}'; use dotted params.yaml keys like 'model.type'")
        refuse_split_key("sweep grid", key, split_stage_params)
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
    """The complete training with the best validation score in its task's direction (macro-F1 up, perplexity
    down); ties: the earliest. Pruned search trials are never chosen."""
    complete = [result for result in results if result.get("state", COMPLETE) == COMPLETE]
    if not complete:
        raise RuntimeError("no training of the sweep completed, so there is nothing to register")
    higher = complete[0]["higher_is_better"]
    return max(complete, key=lambda result: ((1 if higher else -1) * result["score"], -result["index"]))


def search_settings(committed: dict[str, Any], conf: dict[str, Any]) -> tuple[SearchParams, Params]:
    """The run's search settings: the commit's ``search`` section with the conf's ``search.*`` keys set (the
    form's budget fields, or any key of the section through REST); checked like params.yaml."""
    overrides = {key: value for key, value in conf.items() if key.startswith(SEARCH_PREFIX)}
    params = params_from_dict(merged_params(committed, overrides), source="sweep conf")
    return params.search, params


def round_trials(
    mode: str,
    round_number: int,
    *,
    conf: dict[str, Any],
    committed: dict[str, Any],
    split_stage_params: Iterable[str],
    earlier: list[dict[str, Any]],
    minutes_elapsed: float,
) -> tuple[list[dict[str, Any]], str]:
    """The trials of one round (each with ``trial``, its number, and ``overrides``; a search trial also with its
    ``distributions`` and the ``pruning`` spec its train stage reads) and, when there are none, why."""
    if mode not in MODES:
        raise ConfigError(f"sweep mode '{mode}' is unknown; use one of {', '.join(MODES)}")
    if mode == "grid":
        if round_number:
            return [], "a grid sweep is one round"
        combinations = expand_grid(conf.get("grid") or {}, committed, split_stage_params)
        return [{"trial": index, "overrides": overrides} for index, overrides in enumerate(combinations)], ""
    settings, params = search_settings(committed, conf)
    rounds = math.ceil(settings.trials / settings.parallel)
    if rounds > SEARCH_ROUNDS:
        raise ConfigError(
            f"search.trials {settings.trials} in rounds of search.parallel {settings.parallel} needs {rounds} "
            f"rounds; the sweep holds {SEARCH_ROUNDS}. Raise search.parallel or lower search.trials"
        )
    if round_number == 0:
        check_space(settings, committed, split_stage_params)
    if len(earlier) >= settings.trials:
        return [], f"the budget of {settings.trials} trials is spent"
    if minutes_elapsed >= settings.minutes:
        return [], f"the budget of {settings.minutes:g} minutes is spent ({minutes_elapsed:.1f} minutes so far)"
    higher_is_better = get_task(params).selection(params).higher_is_better
    count = min(settings.parallel, settings.trials - len(earlier))
    history = [search_record(result) for result in earlier]
    proposals = propose(settings, params, higher_is_better, history, count)
    spec = pruning.pruning_spec(settings, higher_is_better, history)
    return [proposal | {"pruning": spec} for proposal in proposals], ""


def refit_proposal(
    mode: str, *, conf: dict[str, Any], committed: dict[str, Any], results: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, str]:
    """The training after the search's last round: the best trial's settings as a seed ensemble of
    ``search.ensemble_size`` members (numbered after every trial, marked ``refit``), or None and why there is
    none. It joins the trials' results, so the gate gets it only where its validation score beats theirs."""
    if mode != "search":
        return None, "a grid sweep registers its best combination as it was trained"
    settings, _ = search_settings(committed, conf)
    if settings.ensemble_size == 1:
        return None, "search.ensemble_size is 1: the best trial goes to the gate as it was trained"
    best = best_training(results)
    number = max(result["index"] for result in results) + 1
    return {"trial": number, "overrides": refit_overrides(best["overrides"], settings), "refit": True}, ""


def search_record(result: dict[str, Any]) -> dict[str, Any]:
    """What the search keeps of a trial's result (see pipelines/search/study.py)."""
    keys = ("trial", "overrides", "distributions", "state", "score", "intermediate")
    return {key: result[key] for key in keys}


def write_trial_file(workspace: Path, proposal: dict[str, Any]) -> dict[str, str]:
    """A search trial's :data:`TRIAL_FILE` and the environment that makes its train stage report to the search;
    nothing for a grid combination."""
    if "pruning" not in proposal:
        return {}
    path = workspace / TRIAL_FILE
    trial = {key: proposal[key] for key in ("trial", "overrides", "distributions")}
    pruning.write_trial_file(path, proposal["pruning"] | {"trial": trial})
    return {pruning.TRIAL_ENV: str(path)}


def pruned_result(workspace: Path, proposal: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any] | None:
    """The result of a search trial whose train stage stopped because it was pruned; None when it failed for
    any other reason (the task then fails, as any training does)."""
    if "pruning" not in proposal:
        return None
    report = pruning.read_report(workspace / TRIAL_FILE)
    if not report["pruned"]:
        return None
    return {
        "index": proposal["trial"],
        "trial": proposal["trial"],
        "spec": spec,
        "overrides": proposal["overrides"],
        "distributions": proposal["distributions"],
        "state": PRUNED,
        "score": None,
        "intermediate": report["intermediate"],
        "run_id": None,
    }


def training_result(
    workspace: Path, index: int, spec: dict[str, Any], proposal: dict[str, Any] | None = None
) -> dict[str, Any]:
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
        "state": COMPLETE,
        "refit": bool(proposal and proposal.get("refit")),
        **(search_fields(workspace, proposal) if proposal and "pruning" in proposal else {}),
    }


def search_fields(workspace: Path, proposal: dict[str, Any]) -> dict[str, Any]:
    return {
        "trial": proposal["trial"],
        "distributions": proposal["distributions"],
        "baseline": proposal.get("baseline", False),
        "intermediate": pruning.read_report(workspace / TRIAL_FILE)["intermediate"],
    }
