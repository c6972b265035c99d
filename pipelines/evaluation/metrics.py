"""Classification metrics and the confusion-matrix artifacts that ``dvc metrics`` and ``dvc plots`` read."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from pipelines.common.io import atomic_path
from pipelines.tracking import ScoredSplit


def classification_metrics(labels: np.ndarray, predictions: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    indices = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=indices, zero_division=0
    )
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


def confusion_frame(labels: np.ndarray, predictions: np.ndarray, class_names: list[str]) -> pd.DataFrame:
    """One row per test example (``actual``, ``predicted``): the layout of dvc's confusion template."""
    names = np.asarray(class_names)
    return pd.DataFrame({"actual": names[labels], "predicted": names[predictions]})


def plot_confusion(labels: np.ndarray, predictions: np.ndarray, class_names: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = confusion_matrix(labels, predictions, labels=list(range(len(class_names))))
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
