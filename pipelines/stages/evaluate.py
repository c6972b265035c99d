"""Stage ``evaluate``: score the trained model on the validation and test splits; write metrics, the
per-example confusion table for ``dvc plots`` and a confusion-matrix PNG (test); log all of it, the content
hashes of both splits and the raw-text model to the run. The registry gate selects on validation; test is
reported."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report

from pipelines import tracking
from pipelines.config import load_params
from pipelines.evaluation import classification_metrics, confusion_frame, plot_confusion
from pipelines.io import atomic_path, write_json
from pipelines.models.saved import load_model
from pipelines.stages import stage_cli
from pipelines.text.preprocess import Preprocessor
from pipelines.text.sequences import EncodedSplit
from pipelines.text.stopwords import read_stopwords
from pipelines.text.vocab import Vocabulary
from pipelines.training.device import resolve_device
from pipelines.training.loop import predict_probabilities

log = logging.getLogger("evaluate")
BATCH_SIZE = 256
EXAMPLES = 5


def main(argv: list[str] | None = None) -> None:
    stage_cli(
        "evaluate",
        __doc__,
        ["tokens", "validated", "validation", "stopwords", "model", "run", "metrics", "confusion", "plot"],
        evaluate,
        argv,
    )


def split_hash(frame: pd.DataFrame) -> str:
    """A content hash of a split (labels and texts), independent of the file format that holds it."""
    digest = hashlib.sha256()
    for label, text in zip(frame["label"], frame["text"], strict=True):
        digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()


def evaluate(args) -> None:
    params = load_params(args.params)
    device = resolve_device(params.train.device)
    model, saved = load_model(args.model, device)
    class_names = saved["class_names"]
    valid = EncodedSplit.load(args.tokens / "valid.npz")
    valid_predictions = predict_probabilities(model, valid, BATCH_SIZE, device).argmax(axis=1)
    valid_metrics = classification_metrics(valid.labels, valid_predictions, class_names)
    test = EncodedSplit.load(args.tokens / "test.npz")
    probabilities = predict_probabilities(model, test, BATCH_SIZE, device)
    predictions = probabilities.argmax(axis=1)
    metrics = classification_metrics(test.labels, predictions, class_names)
    write_json(args.metrics, {"test": metrics, "valid": valid_metrics})
    with atomic_path(args.confusion) as temporary:
        confusion_frame(test.labels, predictions, class_names).to_csv(temporary, index=False)
    title = f"{params.dataset.name} / {params.model.type}: accuracy {metrics['accuracy']:.3f}"
    plot_confusion(test.labels, predictions, class_names, args.plot, title)
    log.info("test accuracy %.4f, macro-F1 %.4f on %d examples", metrics["accuracy"], metrics["macro_f1"], len(test))

    test_frame = pd.read_parquet(args.validated / "test.parquet")
    hashes = {"test": split_hash(test_frame), "valid": split_hash(pd.read_parquet(args.validated / "valid.parquet"))}
    with tracking.resumed_run(args.run) as run_id:
        if run_id is None:
            return
        names = np.asarray(class_names, dtype=object)
        wrong = predictions != test.labels
        misclassified = pd.DataFrame(
            {
                "text": test_frame["text"][wrong].tolist(),
                "actual": names[test.labels[wrong]].tolist(),
                "predicted": names[predictions[wrong]].tolist(),
                "confidence": probabilities[wrong].max(axis=1).round(4).tolist(),
            }
        )
        report_files = [
            args.metrics,
            args.plot,
            args.validation,
            Path(args.params),
            Path("dvc.lock"),
            args.tokens / "vocab.json",
        ]
        report_text = classification_report(
            test.labels,
            predictions,
            labels=list(range(len(class_names))),
            target_names=class_names,
            digits=4,
            zero_division=0,
        )
        tracking.log_evaluation(
            {"test": metrics, "validation": valid_metrics}, hashes, report_files, misclassified, report_text
        )
        preprocessor = Preprocessor.from_params(
            params.clean, params.tokenize, read_stopwords(args.stopwords), Vocabulary.load(args.tokens / "vocab.json")
        )
        with tempfile.TemporaryDirectory() as scratch:
            preprocessing = Path(scratch, "preprocessing.json")
            write_json(preprocessing, preprocessor.config)
            tracking.log_text_model(
                {"model": args.model, "vocab": args.tokens / "vocab.json", "preprocessing": preprocessing},
                test_frame["text"].head(EXAMPLES).tolist(),
            )
        log.info("logged metrics, reports and the raw-text model to MLflow run %s", run_id)


if __name__ == "__main__":
    main()
