"""The search's decisions, from its trials' records: which params to try next (TPE) and whether a running trial
is pruned (median of earlier trials at the same epoch).

A trial's record is a plain dict (it travels as an Airflow XCom): ``trial`` (its number), ``overrides`` (the
dotted params it tried, as Optuna's params), ``distributions`` (Optuna's JSON of each), ``state`` (``complete``
or ``pruned``), ``score`` (validation score on the register gate's metric, complete trials) and ``intermediate``
(the training's validation score per epoch, as ``{"<epoch>": value}``).
"""

from __future__ import annotations

import logging
from typing import Any

from pipelines.config import Params, SearchParams
from pipelines.search.space import baseline, suggest

COMPLETE, PRUNED = "complete", "pruned"
REFIT_KEY = "train.ensemble_size"
"""The one key a refit sets on top of the best trial's overrides (:func:`refit_overrides`)."""


def build_study(settings: SearchParams, higher_is_better: bool, history: list[dict[str, Any]]) -> Any:
    """An in-memory study holding ``history``. The sampler's seed is ``search.seed`` plus the number of trials
    so far: the same records always give the same proposals, and a later round's random start-up trials differ
    from an earlier round's.

    The TPE is multivariate (it models the keys jointly, so a value that only helps beside another, like the
    validation prior beside a high NB interpolation, can be learnt) and a constant liar (trials asked but not
    yet scored count as bad, so one round's trials spread out). Both are Optuna 5's defaults for one
    objective; they are spelt out so that a change of default cannot change the search unseen."""
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    sampler = optuna.samplers.TPESampler(
        seed=settings.seed + len(history),
        n_startup_trials=settings.startup_trials,
        multivariate=True,
        constant_liar=True,
    )
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=settings.startup_trials, n_warmup_steps=settings.warmup_epochs)
        if settings.pruning
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        direction="maximize" if higher_is_better else "minimize", sampler=sampler, pruner=pruner
    )
    for record in sorted(history, key=lambda item: item["trial"]):
        study.add_trial(frozen_trial(record))
    return study


def frozen_trial(record: dict[str, Any]) -> Any:
    from optuna.distributions import json_to_distribution
    from optuna.trial import TrialState, create_trial

    complete = record["state"] == COMPLETE
    return create_trial(
        state=TrialState.COMPLETE if complete else TrialState.PRUNED,
        value=record["score"] if complete else None,
        params=record["overrides"],
        distributions={key: json_to_distribution(text) for key, text in record["distributions"].items()},
        intermediate_values={int(epoch): value for epoch, value in record.get("intermediate", {}).items()},
    )


def propose(
    settings: SearchParams, params: Params, higher_is_better: bool, history: list[dict[str, Any]], count: int
) -> list[dict[str, Any]]:
    """``count`` new trials (number, params, distributions), asked together: TPE's constant liar counts the
    ones already asked as running, so a round's trials spread out instead of repeating one guess. With
    ``search.baseline_first`` the very first trial is the run's own settings (:func:`baseline`; marked
    ``baseline``), so the best trial is not worse on validation than the run without a search (TPE's random
    start-up alone can be)."""
    from optuna.distributions import distribution_to_json

    study = build_study(settings, higher_is_better, history)
    first = settings.baseline_first and not history
    if first:
        study.enqueue_trial(baseline(settings, params))
    proposals = []
    for _ in range(count):
        trial = study.ask()
        overrides = suggest(trial, settings, params)
        proposals.append(
            {
                "trial": trial.number,
                "overrides": overrides,
                "distributions": {key: distribution_to_json(value) for key, value in trial.distributions.items()},
                "baseline": first and trial.number == 0,
            }
        )
    return proposals


def best_record(history: list[dict[str, Any]], higher_is_better: bool) -> dict[str, Any]:
    """The complete trial with the best score; ties go to the earliest."""
    complete = [record for record in history if record["state"] == COMPLETE]
    if not complete:
        raise ValueError("no search trial completed")
    sign = 1 if higher_is_better else -1
    return max(complete, key=lambda record: (sign * record["score"], -record["trial"]))


def refit_overrides(chosen: dict[str, Any], settings: SearchParams) -> dict[str, Any]:
    """The best trial's overrides trained again as a seed ensemble of ``search.ensemble_size`` members. Why: the
    best of several trials on one validation split is partly its luckiest draw, and averaging seeds of the chosen
    settings takes out the seed's share of that luck (the benchmark's hand-tuned picks are seed ensembles too).
    The ensemble's weights are chosen on that same validation split, so it is kept only where it scores higher."""
    return chosen | {REFIT_KEY: settings.ensemble_size}
