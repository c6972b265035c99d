"""What an MLflow run recorded about how it was made, read back for ``python -m pipelines.reproduce``: the commit
(and whether the tree was dirty), the ``dvc.lock`` the evaluate stage logged (every stage's params, dependency
and output hashes as they were when the model was scored), ``reports/metrics.json`` and the logged scores.

A run is named by its id or by a registry URI (``models:/name@alias``, ``models:/name/version``), as MLflow's own
``mlflow.pyfunc.load_model`` accepts them.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.common.errors import PipelineError
from pipelines.config.pipeline import parse_lock
from pipelines.tracking.store import connect, describe_store

COMMIT_TAG = "mlflow.source.git.commit"
DIRTY_TAG = "git.dirty"
LOCK_ARTIFACT = "reports/dvc.lock"
METRICS_ARTIFACT = "reports/metrics.json"
REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


class RecordError(PipelineError, RuntimeError):
    """The run cannot be found, or it lacks what a rebuild needs (its commit, its dvc.lock)."""


@dataclass(frozen=True)
class RecordedRun:
    run_id: str
    commit: str
    dirty: bool
    lock: dict[str, Any]
    """``dvc.lock`` as logged by evaluate: the stages before evaluate are final there; evaluate's own entry (and
    later stages') are whatever the workspace held before, so only the former are compared."""
    metrics_json: str
    scores: dict[str, float]
    """The run's ``validation_*`` and ``test_*`` metrics."""


def fetch_run(client: Any, target: str) -> Any:
    """The MLflow run ``target`` names: a run id, or the run behind a registered version."""
    from mlflow.exceptions import MlflowException

    match = REGISTRY_URI.match(target)
    try:
        if match and match["alias"]:
            return client.get_run(client.get_model_version_by_alias(match["name"], match["alias"]).run_id)
        if match:
            return client.get_run(client.get_model_version(match["name"], match["version"]).run_id)
        return client.get_run(target)
    except MlflowException as error:
        if getattr(error, "error_code", "") not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
        what = "registered version" if match else "MLflow run"
        raise RecordError(
            f"no {what} {target} in {describe_store(connect())}: check the id (the MLflow UI shows it) and "
            "MLFLOW_TRACKING_URI"
        ) from None


def recorded_run(client: Any, target: str) -> RecordedRun:
    run = fetch_run(client, target)
    run_id = run.info.run_id
    tags = run.data.tags
    if not tags.get(COMMIT_TAG):
        raise RecordError(
            f"run {run_id} records no git commit (it was not made in a git checkout): it cannot be rebuilt"
        )
    logged = {item.path for item in client.list_artifacts(run_id, "reports")}
    missing = [path for path in (LOCK_ARTIFACT, METRICS_ARTIFACT) if path not in logged]
    if missing:
        raise RecordError(
            f"run {run_id} has no {' or '.join(missing)} (its evaluate stage did not finish, or it predates them): "
            "nothing to compare a rebuild with"
        )
    with tempfile.TemporaryDirectory(prefix="textflow-record-") as scratch:
        lock = Path(client.download_artifacts(run_id, LOCK_ARTIFACT, scratch)).read_text(encoding="utf-8")
        metrics_json = Path(client.download_artifacts(run_id, METRICS_ARTIFACT, scratch)).read_text(encoding="utf-8")
    return RecordedRun(
        run_id=run_id,
        commit=tags[COMMIT_TAG],
        dirty=tags.get(DIRTY_TAG) == "true",
        lock=parse_lock(lock),
        metrics_json=metrics_json,
        scores={key: value for key, value in run.data.metrics.items() if key.startswith(("validation_", "test_"))},
    )
