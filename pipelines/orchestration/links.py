"""From an Airflow run to its MLflow run: the train task's "MLflow run" extra link (a button on the task in the
Airflow UI, and ``GET .../taskInstances/train/links`` in the REST API). The way back is the run's ``airflow.*``
tags.

Airflow 3 computes an operator's extra links on the worker when the task finishes and stores them as XComs, which
the UI and REST API read (no plugin is needed to show them). The link is read from the training's run file in the
DAG run's workspace, which is on the worker that trained. It points at the MLflow UI: ``TEXTFLOW_MLFLOW_UI_URL``
when set, else the tracking server (``MLFLOW_TRACKING_URI``, without credentials), else ``make ui``'s address for
the project's own store.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipelines.orchestration import workspace
from pipelines.orchestration.distributed import credentials_removed

MLFLOW_UI_ENV = "TEXTFLOW_MLFLOW_UI_URL"
LOCAL_UI = "http://127.0.0.1:5000"
"""Where ``make ui`` serves the project's own store."""
RUN_FILE = "reports/mlflow_run.json"
LINK_NAME = "MLflow run"


def mlflow_ui_base() -> str:
    if configured := os.environ.get(MLFLOW_UI_ENV):
        return configured.rstrip("/")
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri.startswith(("http://", "https://")):
        return credentials_removed(uri)[0].rstrip("/")
    return LOCAL_UI


def mlflow_run_url(run_file: Path) -> str:
    """The MLflow UI's page of the run in ``run_file``; empty when there is none (tracking off, or the training
    failed before its run began)."""
    try:
        record = json.loads(run_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    if not record.get("run_id"):
        return ""
    return f"{mlflow_ui_base()}/#/experiments/{record.get('experiment_id', '0')}/runs/{record['run_id']}"


def mlflow_run_link(root: Path) -> Any:
    """The extra link for the tasks of a DAG built from project ``root`` (imports Airflow: DAG files only)."""
    from airflow.sdk import BaseOperatorLink

    class MlflowRunLink(BaseOperatorLink):
        name = LINK_NAME

        def get_link(self, operator: Any, *, ti_key: Any) -> str:
            return mlflow_run_url(workspace.workspace_path(root, ti_key.run_id) / RUN_FILE)

    return MlflowRunLink()
