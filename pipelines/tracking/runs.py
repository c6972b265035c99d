"""A training's MLflow run: created by the train stage with every param, tags (git, Airflow, device) and the
upstream stages' numbers; its id travels to evaluate, keywords and register in ``reports/mlflow_run.json``, a
declared DVC output, so nothing depends on hidden state. ``tracking.enabled: false`` turns all of it off."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines.common.background import OUTAGE_ENV, BackgroundSender, outage_seconds
from pipelines.common.io import read_json, write_json
from pipelines.config import Params, flatten, set_flags
from pipelines.tracking.store import TrackingError, connect, describe_store, experiment_id, tracking_uri

log = logging.getLogger(__name__)

PARENT_ENV = "TEXTFLOW_PARENT_RUN_ID"
NOT_LOGGED = ("search.",)
"""Params sections that shape how runs are chosen, not what a run trained (the search's budget and spaces): not
logged as a run's params."""
AIRFLOW_CONTEXT = {
    "AIRFLOW_CTX_DAG_ID": "airflow.dag_id",
    "AIRFLOW_CTX_DAG_RUN_ID": "airflow.run_id",
    "AIRFLOW_CTX_TRY_NUMBER": "airflow.try_number",
    "AIRFLOW_CTX_TASK_ID": "airflow.task_id",
}


def git_tags() -> dict[str, str]:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], capture_output=True, text=True, timeout=30)
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    return {"mlflow.source.git.commit": commit, "git.dirty": str(bool(git("status", "--porcelain"))).lower()}


def upstream_metrics(reports: dict[str, Path]) -> dict[str, float]:
    """Numbers from the upstream stages' reports, flattened as ``<stage>.<key>`` (non-numbers skipped)."""
    metrics: dict[str, float] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}", value)
        elif isinstance(node, (int, float)):  # bool included: True/False become 1.0/0.0
            metrics[prefix] = float(node)

    for stage, path in reports.items():
        if path.exists():
            data = read_json(path)
            data.pop("checks", None)
            data.pop("nearest_neighbours", None)
            walk(stage, data)
    return metrics


class TrainingRun:
    """A training run being logged; its methods are no-ops when tracking is off (``run_id`` None).

    Everything logged during training (epoch curves, samples, the final numbers) goes through one background
    sender (pipelines/common/background.py): the training never waits for MLflow, an outage of the server costs
    a warning, and what was logged meanwhile arrives, in order, once it is back. :meth:`close` waits for that,
    bounded by ``TEXTFLOW_OUTAGE_MINUTES``; the checkpoint is written before each epoch is logged."""

    def __init__(self, run_id: str | None, client: Any = None):
        self.run_id = run_id
        self._client = client
        self._sender = None
        if run_id is not None:
            self._sender = BackgroundSender(f"MLflow run {run_id[:8]}", self._send, give_up_after=outage_seconds())

    def _send(self, item: tuple[str, Any]) -> None:
        from mlflow.entities import Metric

        kind, payload = item
        if kind == "metrics":
            metrics, step, timestamp = payload
            self._client.log_batch(
                self.run_id, metrics=[Metric(key, float(value), timestamp, step) for key, value in metrics.items()]
            )
        else:
            text, artifact_file = payload
            self._client.log_text(self.run_id, text, artifact_file)

    def _put_metrics(self, metrics: dict[str, float], step: int) -> None:
        if self._sender is not None:
            self._sender.put(("metrics", (metrics, step, int(time.time() * 1000))))

    def log_epoch(self, row: dict[str, float]) -> None:
        self._put_metrics({key: value for key, value in row.items() if key != "epoch"}, int(row["epoch"]))

    def log_metrics(self, metrics: dict[str, float]) -> None:
        self._put_metrics(metrics, 0)

    def log_sample(self, metrics: dict[str, float], step: int) -> None:
        """One sample of a series that is not per epoch (the machine's load, pipelines/tracking/system_metrics.py)."""
        self._put_metrics(metrics, step)

    def log_text(self, text: str, artifact_file: str) -> None:
        if self._sender is not None:
            self._sender.put(("text", (text, artifact_file)))

    def flush_quietly(self, timeout: float) -> None:
        """After a failed training: send what can be sent in ``timeout`` seconds, raising nothing."""
        if self._sender is not None:
            self._sender.close(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Wait until everything logged has reached MLflow; a TrackingError when it could not."""
        if self._sender is None:
            return
        if not self._sender.close(outage_seconds() if timeout is None else timeout):
            raise TrackingError(
                f"MLflow at {describe_store(tracking_uri())} did not take this run's logs "
                f"({self._sender.unsent} unsent, {len(self._sender.failed)} refused) within "
                f"{OUTAGE_ENV}; the checkpoint is kept, so running the stage again resumes where it stopped"
            )


@contextmanager
def training_run(
    params: Params,
    run_file: Path,
    *,
    tags: dict[str, str],
    metrics: dict[str, float],
    dataset: Any | None = None,
    dataset_name: str = "",
) -> Iterator[TrainingRun]:
    """Open the run for one training; write its id to ``run_file`` (``null`` when tracking is off)."""
    if not params.tracking.enabled:
        yield TrainingRun(None)
        write_json(run_file, {"run_id": None, "reason": "tracking.enabled is false"})
        return
    import mlflow

    uri = connect()
    experiment = experiment_id(params.tracking.experiment)
    name = run_name(params)
    client = mlflow.MlflowClient(tracking_uri=uri)
    with mlflow.start_run(experiment_id=experiment, run_name=name) as run:
        name = f"{name} #{run.info.run_id[:6]}"
        mlflow.set_tag("mlflow.runName", name)
        mlflow.log_params(logged_params(params))
        mlflow.set_tags({**tags, **git_tags(), **airflow_tags(), "textflow.dataset": params.dataset.name})
        if os.environ.get(PARENT_ENV):  # a sweep's training: nest it under the sweep's parent run
            mlflow.set_tag("mlflow.parentRunId", os.environ[PARENT_ENV])
        if metrics:
            mlflow.log_metrics(metrics)
        if dataset is not None:
            mlflow.log_input(
                mlflow.data.from_pandas(dataset, name=dataset_name, targets="label" if "label" in dataset else None),
                context="training",
            )
        training = TrainingRun(run.info.run_id, client)
        try:
            yield training
        except BaseException as error:
            training.flush_quietly(timeout=10)
            if getattr(error, "run_status", None):  # an intended stop (a pruned search trial), not a failure
                mlflow.set_tags(error.run_tags)
                mlflow.end_run(error.run_status)
            raise
        training.close()
    write_json(run_file, {"run_id": run.info.run_id, "experiment_id": experiment})
    log.info("MLflow run %s (%s) in %s", run.info.run_id, name, describe_store(uri))


def run_name(params: Params) -> str:
    """``<dataset>-<model>`` plus each param that differs from the committed params.yaml (an Airflow or
    ``dvc exp run -S`` override), so runs of one config can be told apart in the UI."""
    changed = changed_params(params)
    model = params.model.type if params.task == "classification" else f"{params.language_model.cell}-lm"
    named = ("task", "model.type", "language_model.cell")
    shown = " ".join(f"{key.rsplit('.', 1)[-1]}={value}" for key, value in changed.items() if key not in named)
    return f"{params.dataset.name}-{model}" + (f" {shown}" if shown else "")


def changed_params(params: Params) -> dict[str, Any]:
    """Params that differ from ``HEAD:params.yaml`` (or from the defaults outside a git checkout)."""
    from pipelines.config import params_from_dict
    from pipelines.config.yaml_reader import load_yaml

    result = subprocess.run(["git", "show", "HEAD:params.yaml"], capture_output=True, text=True, timeout=30)
    try:
        committed = flatten(params_from_dict(load_yaml(result.stdout) or {})) if result.returncode == 0 else None
    except Exception:  # an old or broken committed file: name the run without the difference
        committed = None
    committed = committed if committed is not None else flatten(Params())
    return {key: value for key, value in flatten(params).items() if committed.get(key) != value}


def logged_params(params: Params) -> dict[str, str]:
    """Params as a run holds them: flattened, lists as JSON, every value a string, the search's own keys left out."""
    return {
        key: json.dumps(value) if isinstance(value, list) else str(value)
        for key, value in flatten(params).items()
        if not key.startswith(NOT_LOGGED)
    }


def airflow_tags() -> dict[str, str]:
    return {tag: os.environ[variable] for variable, tag in AIRFLOW_CONTEXT.items() if os.environ.get(variable)}


def run_id_from(run_file: Path) -> str | None:
    return read_json(run_file).get("run_id")


def existing_run_id(run_file: Path) -> str | None:
    """The run id in ``run_file`` once the store is checked to hold it (None when tracking was off).

    DVC's run-cache may restore a training (``run_file`` with it) that was logged to another store: a deleted
    ``mlruns/``, another ``MLFLOW_TRACKING_URI``, a reset server. Its run id means nothing here, and going on
    would fail later with MLflow's "run not found"; this says what happened and what to do."""
    run_id = run_id_from(run_file)
    if run_id is None:
        return None
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = connect()
    try:
        MlflowClient(tracking_uri=uri).get_run(run_id)
    except MlflowException as error:
        if getattr(error, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise TrackingError(
            f"MLflow run {run_id} named in {run_file} is not in {describe_store(uri)}: the training was restored "
            "from DVC's run-cache after being logged to another store. Train again into this one: "
            "dvc repro --force --single-item train, then dvc repro"
        ) from None
    return run_id


@contextmanager
def resumed_run(run_file: Path) -> Iterator[str | None]:
    """Re-open the training run named in ``run_file`` (yields None when tracking was off)."""
    run_id = existing_run_id(run_file)
    if run_id is None:
        yield None
        return
    import mlflow

    with mlflow.start_run(run_id=run_id):
        yield run_id


def registered_name(params: Params) -> str:
    """``register.model_name``, else ``textflow-<dataset>`` (classifiers) or ``textflow-<dataset>-lm`` (language
    models): a registered model's versions compete on one metric, so the two tasks never share a name."""
    suffix = "-lm" if params.task == "language_model" else ""
    return params.register.model_name or f"textflow-{params.dataset.name}{suffix}"


def start_parent_run(name: str, experiment: str, settings: dict[str, Any]) -> str:
    """An (ended) parent run for a sweep, holding what it tries (``sweep.json``: the mode with its grid or its
    search settings); trainings attach to it through ``TEXTFLOW_PARENT_RUN_ID``."""
    import mlflow

    connect()
    with mlflow.start_run(experiment_id=experiment_id(experiment), run_name=name) as run:
        mlflow.log_dict(settings, "sweep.json")
        mlflow.set_tags({**airflow_tags(), "textflow.sweep": "parent"})
    return run.info.run_id


def log_sweep_results(parent_run_id: str, results: list[dict[str, Any]], best: dict[str, Any]) -> None:
    """Every training of a sweep on its parent run (``sweep_results.json``: trial, state, validation score,
    params tried, validation curve, run id, whether it was the run's own settings), the best trial as tags and
    its score as ``best_<metric>``, so the MLflow UI answers "what did the search try and what won" without
    opening each child; a search that began from the run's own settings also logs that trial's score as
    ``baseline_<metric>``: what the search gained."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=connect())
    keys = ("index", "state", "score", "run_id", "overrides", "intermediate", "baseline", "refit")
    rows = [
        {key: result.get(key) for key in keys}
        | {"dvc_exp_run": f"dvc exp run {set_flags(result['overrides'])}".strip()}
        for result in sorted(results, key=lambda item: item["index"])
    ]
    client.log_dict(
        parent_run_id, {"metric": best["metric"], "best": best["index"], "trainings": rows}, "sweep_results.json"
    )
    client.log_metric(parent_run_id, f"best_{best['metric']}", best["score"])
    for row in rows:
        if row["baseline"] and row["score"] is not None:
            client.log_metric(parent_run_id, f"baseline_{best['metric']}", row["score"])
    client.set_tag(parent_run_id, "textflow.sweep.best_run_id", best["run_id"] or "")
