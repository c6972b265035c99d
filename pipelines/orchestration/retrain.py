"""``textflow_retrain``: the pipeline, scheduled on new data instead of a form. It runs when the Asset
``textflow://data`` gets an event (``POST /api/v2/assets/events``, or the outlet of a task that produces data),
with the params of the current champion's run at the project's current commit, so a champion keeps its recipe
when the data under it changes: the params of every stage up to training as the run's ``dvc.lock`` holds them
(as ``python -m pipelines.reproduce`` takes them), and the model's registered name.

The event's extra may name the model (``{"model": "textflow-news"}``; default: the committed params' registered
name). Before anything trains, the run hashes the data its params name (the ``local_files`` stage) and compares
that with what the champion's run recorded: the same data skips the run (a repeated announcement retrains
nothing); other data runs every stage, and DVC's run-cache still restores whatever an earlier run made from the
same inputs. Without a champion yet, the committed params are trained. The champion move itself is the
register gate's, with the committed ``register.*`` settings (``register.approval`` among them): the register
stage's params are not in the lock the champion's run logged, which evaluate wrote before register ran.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pipelines.config import merged_params, params_from_dict
from pipelines.config.pipeline import parse_lock
from pipelines.orchestration import workspace
from pipelines.orchestration.form import overrides_from_conf
from pipelines.orchestration.reproduction import rebuilt_stages, recorded_params
from pipelines.tracking import connect, registered_name
from pipelines.tracking.recorded_run import RecordedRun, RecordError, recorded_run

log = logging.getLogger(__name__)
RETRAIN_DAG_ID = "textflow_retrain"
DATA_ASSET_URI = "textflow://data"
MODEL_KEY = "model"
"""The event extra's key naming the registered model to retrain."""
FINGERPRINT_STAGE = "local_files"


def announced_model(events: Any) -> str | None:
    """The model the latest event on the data asset names, if any (Airflow may fold several events into a run;
    it stores the asset's URI as ``textflow://data/``)."""
    announced = [
        event
        for key, found in dict(events or {}).items()
        if getattr(key, "uri", "").rstrip("/") == DATA_ASSET_URI
        for event in found
    ]
    return (dict(announced[-1].extra or {}).get(MODEL_KEY) or None) if announced else None


def champion_record(model: str) -> RecordedRun | None:
    from mlflow import MlflowClient

    try:
        return recorded_run(MlflowClient(tracking_uri=connect()), f"models:/{model}@champion")
    except RecordError as error:
        log.info("no champion of %s to retrain (%s): training the committed params", model, error)
        return None


def retrain_spec(root: Path, run_id: str, events: Any) -> dict[str, Any] | None:
    """The run spec (as :func:`~pipelines.orchestration.dags.run_spec`) of a retrain with the champion's params
    at HEAD, its workspace prepared; None when the data is what the champion was trained on."""
    commit = workspace.head_commit(root)
    committed = workspace.committed_params(root, commit)
    model = announced_model(events) or registered_name(params_from_dict(committed, source="params.yaml"))
    record = champion_record(model)
    overrides: dict[str, Any] = {}
    if record is not None:
        stages, _ = rebuilt_stages(root, commit)
        overrides = overrides_from_conf(recorded_params(committed, record, stages[:-1]), committed)
        log.info("retraining %s with the params of its champion's run %s", model, record.run_id)
    if registered_name(params_from_dict(merged_params(committed, overrides), source="params.yaml")) != model:
        overrides["register.model_name"] = model
    spec = {"run_id": run_id, "commit": commit, "overrides": overrides, "force": False}
    space = workspace.prepare_workspace(root, run_id, overrides, commit)
    if record is None:
        return spec
    workspace.run_stage(root, space, FINGERPRINT_STAGE)
    now = parse_lock((space / "dvc.lock").read_text(encoding="utf-8"))
    if _fingerprint(now) == _fingerprint(record.lock):
        log.info("the data is what %s's champion (run %s) was trained on: nothing to retrain", model, record.run_id)
        return None
    return spec


def _fingerprint(lock: dict[str, Any]) -> list[str | None]:
    outs = lock.get("stages", {}).get(FINGERPRINT_STAGE, {}).get("outs", [])
    return [out.get("md5") for out in outs]
