"""A search run inside one process (``benchmarks/quality.py --search``): the sweep's rounds, proposals, pruning and
records, with each round's trials trained one after another instead of as mapped Airflow tasks. Given the same
scores it tries exactly the trials the sweep's search mode would."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pipelines.config import Params, SearchParams
from pipelines.search.pruning import TrialPruned, TrialPruning, pruning_spec
from pipelines.search.study import COMPLETE, PRUNED, propose

log = logging.getLogger("search")

TrainTrial = Callable[[dict[str, Any], TrialPruning], float]
"""Trains one trial with its overrides, reporting each epoch to the pruning, and returns its validation score."""


def run_search(
    settings: SearchParams, params: Params, higher_is_better: bool, train_trial: TrainTrial
) -> list[dict[str, Any]]:
    """Every trial's record, in order, until ``search.trials`` or ``search.minutes`` is spent (a round that has
    begun is finished, as in the sweep)."""
    history: list[dict[str, Any]] = []
    began = time.monotonic()
    while len(history) < settings.trials:
        minutes = (time.monotonic() - began) / 60
        if minutes >= settings.minutes:
            log.info(
                "search stopped after %d trials: the budget of %g minutes is spent", len(history), settings.minutes
            )
            break
        count = min(settings.parallel, settings.trials - len(history))
        proposals = propose(settings, params, higher_is_better, history, count)
        spec = pruning_spec(settings, higher_is_better, list(history))
        for proposal in proposals:
            pruning = TrialPruning(spec | {"trial": proposal})
            try:
                record = {"state": COMPLETE, "score": train_trial(proposal["overrides"], pruning)}
            except TrialPruned as pruned:
                log.info("%s", pruned)
                record = {"state": PRUNED, "score": None}
            history.append(proposal | record | {"intermediate": pruning.intermediate})
            log.info(
                "trial %d/%d %s%s",
                proposal["trial"] + 1,
                settings.trials,
                "pruned" if record["state"] == PRUNED else f"score {record['score']:.4f}",
                "".join(f" {key.rsplit('.', 1)[-1]}={_short(value)}" for key, value in proposal["overrides"].items()),
            )
    return history


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
