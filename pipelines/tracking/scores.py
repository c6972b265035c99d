"""A finished model's scores in its run: ``validation_*`` and ``test_*`` metrics, the content hashes of both
splits (what the registry gate compares before scores), report files, and a classifier's extra tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DATA_HASH_TAG = "textflow.test_data_sha256"
VALID_DATA_HASH_TAG = "textflow.valid_data_sha256"
MODEL_URI_TAG = "textflow.model_uri"
"""The run's logged raw-text model (``models:/m-...``), which the register stage registers."""


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
