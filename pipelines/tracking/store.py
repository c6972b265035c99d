"""Where the MLflow store is, and connecting to it: ``MLFLOW_TRACKING_URI`` when set (an ``mlflow server`` or a
database, for concurrent writers), else ``sqlite:///<project>/mlruns/mlflow.db`` with artifacts in
``<project>/mlruns/artifacts``, by absolute path. Experiments carry the runs-table view ``scores``."""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from pathlib import Path

from pipelines.common.errors import PipelineError
from pipelines.common.project import project_root


class TrackingError(PipelineError, RuntimeError):
    """The MLflow store cannot be reached or used; the message says which one and what to do."""


SCORES_VIEW = "scores"
"""A view of the runs table kept on every textflow experiment: open ``#/experiments/<id>/runs?viewStateShareKey=scores``.

MLflow's runs table starts with no metric column (Source, Models, Dataset), so a new user sees identical-looking
rows. The UI's own "share view" mechanism reads a view from the experiment tag ``mlflow.sharedViewState.<key>``
(a JSON object of its UI state keys), which lets the project ship the view instead of asking every user to pick
columns by hand."""
SCORES_VIEW_TAG = f"mlflow.sharedViewState.{SCORES_VIEW}"
SCORES_VIEW_STATE = json.dumps(
    {
        "selectedColumns": [f"params.`{key}`" for key in ("task", "dataset.name", "model.type", "language_model.cell")]
        + [f"metrics.`{split}_{score}`" for split in ("validation", "test") for score in ("accuracy", "macro_f1")]
        + [f"metrics.`{split}_perplexity`" for split in ("validation", "test")]
        + ["attributes.`Duration`"],
    }
)


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlruns' / 'mlflow.db'}"


def _is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def describe_store(uri: str) -> str:
    """The store as logs may show it: no credentials (``user:password@``) and no machine path."""
    if _is_server(uri):
        parts = urllib.parse.urlsplit(uri)
        return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    if uri.startswith("sqlite:///") and Path(uri.removeprefix("sqlite:///")) == project_root() / "mlruns" / "mlflow.db":
        return "the project's store (mlruns/)"
    return f"a {uri.split(':', 1)[0]} store"


def connect() -> str:
    """Point the mlflow client at the store, checking that a server answers before any work is logged."""
    import mlflow

    uri = tracking_uri()
    if _is_server(uri):
        try:
            with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=10) as response:
                response.read()
        except OSError as error:
            raise TrackingError(
                f"MLflow server at {describe_store(uri)} is not reachable ({getattr(error, 'reason', error)}); start it "
                "(`make ui` for the local store) or unset MLFLOW_TRACKING_URI"
            ) from None
    else:
        (project_root() / "mlruns").mkdir(exist_ok=True)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(uri)
    return uri


def experiment_id(name: str) -> str:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.tags.get(SCORES_VIEW_TAG) != SCORES_VIEW_STATE:
            client.set_experiment_tag(found.experiment_id, SCORES_VIEW_TAG, SCORES_VIEW_STATE)
        return found.experiment_id
    location = None
    if not _is_server(tracking_uri()):
        location = (project_root() / "mlruns" / "artifacts").as_uri()
    # The kind tag makes MLflow 3's UI open the experiment on its training-runs view, not the GenAI overview.
    try:
        return client.create_experiment(
            name,
            artifact_location=location,
            tags={"mlflow.experimentKind": "custom_model_development", SCORES_VIEW_TAG: SCORES_VIEW_STATE},
        )
    except MlflowException:  # another run created it between our lookup and our create
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id
