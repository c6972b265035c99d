"""The one place that talks to MLflow: where the store is, what a training run records, and the registry gate.

Store: ``MLFLOW_TRACKING_URI`` when set (an ``mlflow server`` or a database, for concurrent writers), else
``sqlite:///<project>/mlruns/mlflow.db`` with artifacts in ``<project>/mlruns/artifacts``, by absolute path.
A run is created by the train stage; its id travels to evaluate and register in ``reports/mlflow_run.json``,
a declared DVC output, so nothing depends on hidden state. ``tracking.enabled: false`` turns all of it off.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines.config import Params, flatten
from pipelines.io import read_json, write_json
from pipelines.project import project_root

log = logging.getLogger(__name__)

DATA_HASH_TAG = "textflow.test_data_sha256"
VALID_DATA_HASH_TAG = "textflow.valid_data_sha256"
MODEL_URI_TAG = "textflow.model_uri"
AIRFLOW_CONTEXT = {
    "AIRFLOW_CTX_DAG_ID": "airflow.dag_id",
    "AIRFLOW_CTX_DAG_RUN_ID": "airflow.run_id",
    "AIRFLOW_CTX_TRY_NUMBER": "airflow.try_number",
    "AIRFLOW_CTX_TASK_ID": "airflow.task_id",
}


class TrackingError(RuntimeError):
    """The MLflow store cannot be reached or used; the message says which one and what to do."""


PARENT_ENV = "TEXTFLOW_PARENT_RUN_ID"

SCORES_VIEW = "scores"
"""A view of the runs table kept on every textflow experiment: open ``#/experiments/<id>/runs?viewStateShareKey=scores``.

MLflow's runs table starts with no metric column (Source, Models, Dataset), so a new user sees identical-looking
rows. The UI's own "share view" mechanism reads a view from the experiment tag ``mlflow.sharedViewState.<key>``
(a JSON object of its UI state keys), which lets the project ship the view instead of asking every user to pick
columns by hand."""
SCORES_VIEW_TAG = f"mlflow.sharedViewState.{SCORES_VIEW}"
SCORES_VIEW_STATE = json.dumps(
    {
        "selectedColumns": [f"params.`{key}`" for key in ("dataset.name", "model.type")]
        + [f"metrics.`{split}_{score}`" for split in ("validation", "test") for score in ("accuracy", "macro_f1")]
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
    """A training run being logged; ``None`` methods are no-ops when tracking is off."""

    def __init__(self, run_id: str | None):
        self.run_id = run_id

    def log_epoch(self, row: dict[str, float]) -> None:
        if self.run_id is None:
            return
        import mlflow

        epoch = int(row["epoch"])
        mlflow.log_metrics({key: value for key, value in row.items() if key != "epoch"}, step=epoch, run_id=self.run_id)

    def log_text(self, text: str, artifact_file: str) -> None:
        if self.run_id is not None:
            import mlflow

            mlflow.log_text(text, artifact_file, run_id=self.run_id)

    def log_metrics(self, metrics: dict[str, float]) -> None:
        if self.run_id is not None:
            import mlflow

            mlflow.log_metrics({key: float(value) for key, value in metrics.items()}, run_id=self.run_id)


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
    with mlflow.start_run(experiment_id=experiment, run_name=name) as run:
        name = f"{name} #{run.info.run_id[:6]}"
        mlflow.set_tag("mlflow.runName", name)
        mlflow.log_params(
            {key: json.dumps(value) if isinstance(value, list) else value for key, value in flatten(params).items()}
        )
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
        yield TrainingRun(run.info.run_id)
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

    result = subprocess.run(["git", "show", "HEAD:params.yaml"], capture_output=True, text=True, timeout=30)
    try:
        import yaml

        committed = flatten(params_from_dict(yaml.safe_load(result.stdout) or {})) if result.returncode == 0 else None
    except Exception:  # an old or broken committed file: name the run without the difference
        committed = None
    committed = committed if committed is not None else flatten(Params())
    return {key: value for key, value in flatten(params).items() if committed.get(key) != value}


def airflow_tags() -> dict[str, str]:
    return {tag: os.environ[variable] for variable, tag in AIRFLOW_CONTEXT.items() if os.environ.get(variable)}


def run_id_from(run_file: Path) -> str | None:
    return read_json(run_file).get("run_id")


@contextmanager
def resumed_run(run_file: Path) -> Iterator[str | None]:
    """Re-open the training run named in ``run_file`` (yields None when tracking was off)."""
    run_id = run_id_from(run_file)
    if run_id is None:
        yield None
        return
    import mlflow

    connect()
    with mlflow.start_run(run_id=run_id):
        yield run_id


def registered_name(params: Params) -> str:
    return params.register.model_name or f"textflow-{params.dataset.name}"


def split_metrics(split: str, metrics: dict[str, Any]) -> dict[str, float]:
    """``<split>_accuracy``, ``<split>_macro_f1``, ... and ``<split>_<class>_<score>`` for each class."""
    flat = {f"{split}_{key}": float(value) for key, value in metrics.items() if isinstance(value, (int, float))}
    for name, scores in metrics.get("per_class", {}).items():
        flat.update({f"{split}_{name}_{score}": float(value) for score, value in scores.items()})
    return flat


def log_scores(metrics: dict[str, dict[str, Any]], data_hashes: dict[str, str], artifacts: list[Path]) -> None:
    """Into the active run: ``validation_*`` and ``test_*`` metrics (``valid_*`` are the per-epoch curves), the
    content hashes of both splits (the registry gate compares validation scores only on the same validation
    data) and the report files."""
    import mlflow

    for split, values in metrics.items():
        mlflow.log_metrics(split_metrics(split, values))
    mlflow.set_tags({DATA_HASH_TAG: data_hashes["test"], VALID_DATA_HASH_TAG: data_hashes["valid"]})
    for path in artifacts:
        if path.exists():
            mlflow.log_artifact(str(path), artifact_path="reports")


def log_evaluation(
    metrics: dict[str, dict[str, Any]],
    data_hashes: dict[str, str],
    artifacts: list[Path],
    misclassified: Any,
    report_text: str,
) -> None:
    """A classifier's evaluation: :func:`log_scores`, the text classification report and the table of
    misclassified test examples."""
    import mlflow

    log_scores(metrics, data_hashes, artifacts)
    mlflow.log_text(report_text, "reports/classification_report.txt")
    mlflow.log_table(misclassified, artifact_file="misclassified_test_examples.json")


def log_text_model(artifacts: dict[str, Path], example: Any, task: str = "classification") -> None:
    """Log the task's raw-text pyfunc (see pipelines/serving.py) as ``model`` in the active run; ``example``
    is an input frame (texts to classify, or prefixes to continue)."""
    import mlflow
    from mlflow.models import infer_signature

    import pipelines
    from pipelines.generation import DEFAULT_SAMPLING
    from pipelines.serving import TextClassifier, TextGenerator

    package = Path(pipelines.__file__).parent
    if task == "language_model":
        served, entry, sampling = TextGenerator(), package / "pyfunc_generator_entry.py", DEFAULT_SAMPLING
    else:
        served, entry, sampling = TextClassifier(), package / "pyfunc_entry.py", None
    served.load_artifacts({name: str(path) for name, path in artifacts.items()})
    signature = infer_signature(example, served.predict(None, example, sampling), params=sampling)
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(entry),
        artifacts={name: str(path) for name, path in artifacts.items()},
        code_paths=[str(package)],
        signature=signature,
        input_example=example.head(3),
        pip_requirements=_pinned_requirements(),
    )
    mlflow.set_tag(MODEL_URI_TAG, info.model_uri)


def _pinned_requirements() -> list[str]:
    from importlib.metadata import version

    names = ["mlflow", "torch", "numpy", "pandas", "nltk", "jieba", "pyyaml"]
    return [f"{name}=={version(name).split('+')[0]}" for name in names]


def start_parent_run(name: str, experiment: str, grid: dict[str, list[Any]]) -> str:
    """An (ended) parent run for a sweep; trainings attach to it through ``TEXTFLOW_PARENT_RUN_ID``."""
    import mlflow

    connect()
    with mlflow.start_run(experiment_id=experiment_id(experiment), run_name=name) as run:
        mlflow.log_dict(grid, "sweep_grid.json")
        mlflow.set_tags({**airflow_tags(), "textflow.sweep": "parent"})
    return run.info.run_id
