"""A finished model's scores in its run: ``validation_*`` and ``test_*`` metrics linked to the logged model and
to the split they were measured on, both splits as the run's inputs with the content hashes the registry gate
compares before scores, report files, and a classifier's extra tables."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time only evaluate's callers hold frames: a DAG file parses this module without pandas
    import pandas as pd

DATA_HASH_TAG = "textflow.test_data_sha256"
VALID_DATA_HASH_TAG = "textflow.valid_data_sha256"
MODEL_URI_TAG = "textflow.model_uri"
"""The run's logged raw-text model (``models:/m-...``), which the register stage registers."""
DATA_DOCS_PATH = "data_docs"
"""Where evaluate logs GX's Data Docs site among the run's artifacts (entry page ``data_docs/index.html``)."""


def split_metrics(split: str, metrics: dict[str, Any]) -> dict[str, float]:
    """``<split>_accuracy``, ``<split>_macro_f1``, ... and ``<split>_<class>_<score>`` for each class."""
    flat = {f"{split}_{key}": float(value) for key, value in metrics.items() if isinstance(value, (int, float))}
    for name, scores in metrics.get("per_class", {}).items():
        flat.update({f"{split}_{name}_{score}": float(value) for score, value in scores.items()})
    return flat


DIGEST_LENGTH = 36
"""MLflow's dataset digest column holds 36 characters (PostgreSQL enforces it); the full sha256 is the input's
``textflow.sha256`` tag and the run's hash tags."""
SPLIT_CONTEXTS = ("validation", "test")


@dataclass(frozen=True)
class ScoredSplit:
    """A split a model was scored on: its rows, the gate's content hash of them, and where the data lives (the
    DVC remote's URL of the file when the project has a default remote, else its path in the project)."""

    frame: pd.DataFrame
    sha256: str
    source: str


def log_scores(
    metrics: dict[str, dict[str, Any]],
    splits: dict[str, ScoredSplit],
    artifacts: list[Path],
    dataset_name: str,
    model_id: str | None = None,
) -> None:
    """Into the active run: both splits (keys ``validation`` and ``test``) as inputs, the ``validation_*`` and
    ``test_*`` metrics (``valid_*`` are the per-epoch curves) linked to the logged model ``model_id`` and to
    their split, so the experiment's Models tab compares models per dataset, the content hashes as tags (the
    registry gate compares validation scores only on the same validation data) and the report files."""
    import mlflow

    for context in SPLIT_CONTEXTS:
        split = splits[context]
        with warnings.catch_warnings():
            # MLflow registers its local-file source class twice, so resolving any path warns that it "can be
            # interpreted in multiple ways: LocalArtifactDatasetSource, LocalArtifactDatasetSource" (3.17.2)
            warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
            dataset = mlflow.data.from_pandas(
                split.frame,
                source=split.source,
                name=f"{dataset_name}-{context}",
                targets="label" if "label" in split.frame else None,
                digest=split.sha256[:DIGEST_LENGTH],
            )
        mlflow.log_input(dataset, context=context, tags={"textflow.sha256": split.sha256})
        mlflow.log_metrics(split_metrics(context, metrics[context]), model_id=model_id, dataset=dataset)
    mlflow.set_tags({DATA_HASH_TAG: splits["test"].sha256, VALID_DATA_HASH_TAG: splits["validation"].sha256})
    for path in artifacts:
        if path.exists():
            mlflow.log_artifact(str(path), artifact_path="reports")


def log_evaluation(
    metrics: dict[str, dict[str, Any]],
    splits: dict[str, ScoredSplit],
    artifacts: list[Path],
    dataset_name: str,
    model_id: str | None,
    misclassified: Any,
    report_text: str,
) -> None:
    """A classifier's evaluation: :func:`log_scores`, the text classification report and the table of
    misclassified test examples."""
    import mlflow

    log_scores(metrics, splits, artifacts, dataset_name, model_id)
    mlflow.log_text(report_text, "reports/classification_report.txt")
    mlflow.log_table(misclassified, artifact_file="misclassified_test_examples.json")
