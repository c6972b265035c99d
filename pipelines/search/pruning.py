"""Pruning inside a search trial's train stage.

The sweep's trial task writes a trial file (this trial's params and the earlier trials' records) and names it in
``TEXTFLOW_SEARCH_TRIAL``; the train stage then reports each epoch's validation score to a study rebuilt from
those records, and stops with :class:`TrialPruned` when Optuna's median rule says so. A pruned training writes no
output, so DVC caches nothing of it: a later run with the same params trains in full. Whatever the outcome, the
validation curve goes to the trial's report file (the trial file's name with ``.report.json``), which the task
reads back into the trial's record.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipelines.common.errors import PipelineError
from pipelines.common.io import read_json, write_json
from pipelines.config import SearchParams
from pipelines.search.study import build_study

TRIAL_ENV = "TEXTFLOW_SEARCH_TRIAL"


class TrialPruned(PipelineError):
    """The trial's validation score fell below what earlier trials had at the same epoch. Its MLflow run ends
    as KILLED, tagged pruned, rather than FAILED."""

    run_status = "KILLED"
    run_tags = {"textflow.search.state": "pruned"}


def report_path(trial_file: Path) -> Path:
    return trial_file.with_name(trial_file.stem + ".report.json")


def pruning_spec(settings: SearchParams, higher_is_better: bool, history: list[dict]) -> dict[str, Any]:
    """What a trial's pruning needs besides the trial itself (add ``"trial"``: its proposal): the search
    settings, the direction and the earlier trials' records. A trial file holds exactly this."""
    return {"settings": settings.model_dump(mode="json"), "higher_is_better": higher_is_better, "history": history}


def write_trial_file(path: Path, spec: dict[str, Any]) -> None:
    """``spec``: :func:`pruning_spec` with the trial's proposal; any report of an earlier try is removed."""
    report_path(path).unlink(missing_ok=True)
    write_json(path, spec)


def read_report(trial_file: Path) -> dict[str, Any]:
    """The trial's curve and whether it was pruned; an empty curve when the training never finished an epoch."""
    path = report_path(trial_file)
    return read_json(path) if path.exists() else {"intermediate": {}, "pruned": False}


class TrialPruning:
    """Reports a training's epochs to the search; see the module docstring. ``spec`` is what a trial file holds
    (:func:`pruning_spec` with this trial's proposal); the curve is written to ``report_file`` after every epoch
    when one is given."""

    def __init__(self, spec: dict[str, Any], report_file: Path | None = None):
        from optuna.distributions import json_to_distribution

        self.number = spec["trial"]["trial"]
        self.report_file = report_file
        self.intermediate: dict[str, float] = {}
        study = build_study(SearchParams(**spec["settings"]), spec["higher_is_better"], spec["history"])
        distributions = {key: json_to_distribution(text) for key, text in spec["trial"]["distributions"].items()}
        study.enqueue_trial(spec["trial"]["overrides"])
        self._trial = study.ask(distributions)

    @classmethod
    def from_file(cls, trial_file: Path) -> TrialPruning:
        return cls(read_json(trial_file), report_path(trial_file))

    @classmethod
    def from_env(cls) -> TrialPruning | None:
        trial_file = os.environ.get(TRIAL_ENV)
        return cls.from_file(Path(trial_file)) if trial_file else None

    def report(self, row: dict[str, float], score_key: str) -> None:
        """Record an epoch's ``score_key`` (the training's validation score); raise :class:`TrialPruned` when the
        trial should stop."""
        epoch, score = int(row["epoch"]), float(row[score_key])
        self.intermediate[str(epoch)] = score
        self._trial.report(score, epoch)
        pruned = bool(self._trial.should_prune())
        if self.report_file is not None:
            write_json(self.report_file, {"intermediate": self.intermediate, "pruned": pruned})
        if pruned:
            raise TrialPruned(
                f"search trial {self.number} pruned after epoch {epoch}: {score_key} {score:.4f} is worse than "
                "the median of earlier trials at this epoch"
            )
