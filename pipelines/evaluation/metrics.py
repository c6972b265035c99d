"""Classification metrics and the confusion-matrix artifacts that ``dvc metrics`` and ``dvc plots`` read.

The scores are computed here from one confusion matrix rather than with ``sklearn.metrics``: importing
scikit-learn (and the scipy it pulls in) took 1.6 of the evaluate stage's 8 CPU-seconds on the demo, for a
matrix, three ratios and a text table. ``tests/test_metrics.py`` holds them equal to scikit-learn's
``precision_recall_fscore_support`` and ``classification_report``, the definitions they follow.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.common.io import atomic_path
from pipelines.tracking import ScoredSplit


def confusion_counts(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """``counts[actual, predicted]``: how many examples of class ``actual`` were predicted as ``predicted``."""
    cells = np.asarray(labels, dtype=np.int64) * classes + np.asarray(predictions, dtype=np.int64)
    return np.bincount(cells, minlength=classes * classes).reshape(classes, classes)


def per_class_scores(
    labels: np.ndarray, predictions: np.ndarray, classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 and support per class; a ratio with nothing to count (a class never predicted, or
    absent from the labels) is 0, as scikit-learn's ``zero_division=0``."""
    counts = confusion_counts(labels, predictions, classes)
    hits = np.diag(counts).astype(np.float64)
    support = counts.sum(axis=1)
    predicted = counts.sum(axis=0)

    def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)

    precision = ratio(hits, predicted.astype(np.float64))
    recall = ratio(hits, support.astype(np.float64))
    f1 = ratio(2 * hits, (support + predicted).astype(np.float64))
    return precision, recall, f1, support


def classification_metrics(labels: np.ndarray, predictions: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    precision, recall, f1, support = per_class_scores(labels, predictions, len(class_names))
    return {
        "accuracy": round(float((labels == predictions).mean()), 6),
        "macro_f1": round(float(f1.mean()), 6),
        "macro_precision": round(float(precision.mean()), 6),
        "macro_recall": round(float(recall.mean()), 6),
        "examples": int(len(labels)),
        "per_class": {
            name: {
                "precision": round(float(precision[i]), 6),
                "recall": round(float(recall[i]), 6),
                "f1": round(float(f1[i]), 6),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
    }


REPORT_HEADERS = ("precision", "recall", "f1-score", "support")


def classification_report_text(
    labels: np.ndarray, predictions: np.ndarray, class_names: list[str], digits: int = 4
) -> str:
    """The per-class table in scikit-learn's ``classification_report`` layout (a row per class, then accuracy,
    macro and support-weighted averages), the text logged as ``reports/classification_report.txt``."""
    precision, recall, f1, support = per_class_scores(labels, predictions, len(class_names))
    scores = np.column_stack([precision, recall, f1])
    total = int(support.sum())
    weighted = (scores * support[:, None]).sum(axis=0) / total if total else np.zeros(3)
    accuracy = float(np.mean(np.asarray(labels) == np.asarray(predictions))) if total else 0.0
    width = max(max(len(name) for name in class_names), len("weighted avg"), digits)
    row = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    lines = [" " * (width + 1) + "".join(f" {header:>9}" for header in REPORT_HEADERS) + "\n\n"]
    lines += [
        row.format(name, *scores[i], support[i], width=width, digits=digits) for i, name in enumerate(class_names)
    ]
    lines.append(f"\n{'accuracy':>{width}s} {'':20s} {accuracy:>9.{digits}f} {total:>9}\n")
    lines.append(row.format("macro avg", *scores.mean(axis=0), total, width=width, digits=digits))
    lines.append(row.format("weighted avg", *weighted, total, width=width, digits=digits))
    return "".join(lines)


def confusion_frame(labels: np.ndarray, predictions: np.ndarray, class_names: list[str]) -> pd.DataFrame:
    """One row per test example (``actual``, ``predicted``): the layout of dvc's confusion template."""
    names = np.asarray(class_names)
    return pd.DataFrame({"actual": names[labels], "predicted": names[predictions]})


def plot_confusion(labels: np.ndarray, predictions: np.ndarray, class_names: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = confusion_counts(labels, predictions, len(class_names))
    size = max(4.0, 0.6 * len(class_names) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    axes.set_yticks(range(len(class_names)), class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title(title)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center", color="white" if count > threshold else "black")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)


def split_hash(frame: pd.DataFrame) -> str:
    """A content hash of a split (texts, and labels where the task has them), independent of the file format
    that holds it: what the registry gate compares before it compares scores."""
    digest = hashlib.sha256()
    labels = frame["label"] if "label" in frame else [""] * len(frame)
    for label, text in zip(labels, frame["text"], strict=True):
        digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()


def scored_splits(validated: Path) -> dict[str, ScoredSplit]:
    """The validation and test splits as the run logs them: rows, the gate's
    content hash, where the data lives."""
    root = Path.cwd().resolve()
    remote = default_remote(root)
    splits = {}
    for context, split in (("validation", "valid"), ("test", "test")):
        path = validated / f"{split}.parquet"
        frame = pd.read_parquet(path)
        splits[context] = ScoredSplit(frame, split_hash(frame), data_source(path, root, remote))
    return splits


def default_remote(root: Path) -> str | None:
    """The DVC project's default remote, if any. DVC is imported only when a DVC config names a remote (a second
    and a half of start-up otherwise spent for nothing)."""
    configs = [root / ".dvc" / name for name in ("config", "config.local")]
    if not any("remote" in config.read_text() for config in configs if config.exists()):
        return None
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return repo.config["core"].get("remote") or None


def data_source(path: Path, root: Path, remote: str | None) -> str:
    """The DVC remote's URL of a DVC-tracked file when the project has a default ``remote`` (where a teammate's
    ``dvc pull`` gets it), else its path in the project; never a machine path. The project ``root`` is the
    working directory, where DVC runs every stage (on a worker, the run's own workspace)."""
    try:
        relative = Path(path).resolve().relative_to(root).as_posix()
    except ValueError:  # outside the project: nothing DVC tracks, and its full path would be a machine's
        return Path(path).name
    if not remote:
        return relative
    import dvc.api

    try:
        return dvc.api.get_url(relative, repo=str(root), remote=remote)
    except Exception:  # not tracked, or its directory's listing is not in the cache: its path is what is left
        return relative


def report_files(args: Any) -> list[Path]:
    """The files every evaluation logs to its run beside the task's own figures."""
    figures = sorted(path for path in args.figures.glob("*") if path.suffix in (".png", ".txt"))
    return [args.metrics, *figures, args.validation, Path(args.params), Path("dvc.lock"), args.tokens / "vocab.json"]
