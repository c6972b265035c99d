"""The evaluate stage for ``task: classification``: accuracy, macro-F1 and per-class scores on validation and
test, the confusion matrix, the preprocessing the model was trained with, and all of it with the raw-text
pyfunc logged to the training's MLflow run."""

from __future__ import annotations

import argparse
import logging

import numpy as np
import pandas as pd

from pipelines import tracking
from pipelines.common.io import atomic_path, write_json
from pipelines.config import Params
from pipelines.evaluation.data_docs import log_data_docs
from pipelines.evaluation.metrics import (
    classification_metrics,
    classification_report_text,
    confusion_frame,
    plot_confusion,
    report_files,
    scored_splits,
)
from pipelines.models.saved import load_model
from pipelines.serving.logged import log_text_model
from pipelines.text.preprocess import Preprocessor
from pipelines.text.sequences import EncodedSplit
from pipelines.text.stopwords import read_stopwords
from pipelines.text.vocab import Vocabulary
from pipelines.training.device import resolve_device
from pipelines.training.loop import predict_probabilities

log = logging.getLogger("evaluate")
BATCH_SIZE = 256
EXAMPLES = 5


def evaluate_classifier(args: argparse.Namespace, params: Params) -> None:
    """Score on validation and test; write metrics, the per-example confusion table for ``dvc plots`` and
    a confusion-matrix PNG (test); log all of it, both splits' content hashes and the raw-text model."""
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
    args.figures.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.figures / "confusion.csv") as temporary:
        confusion_frame(test.labels, predictions, class_names).to_csv(temporary, index=False)
    title = f"{params.dataset.name} / {params.model.type}: accuracy {metrics['accuracy']:.3f}"
    plot_confusion(test.labels, predictions, class_names, args.figures / "confusion.png", title)
    log.info("test accuracy %.4f, macro-F1 %.4f on %d examples", metrics["accuracy"], metrics["macro_f1"], len(test))

    preprocessor = Preprocessor.from_params(
        params.clean,
        params.tokenize,
        read_stopwords(args.stopwords),
        Vocabulary.load(args.tokens / "vocab.json"),
    )
    write_json(args.preprocessing, preprocessor.config)

    splits = scored_splits(args.validated)
    test_frame = splits["test"].frame
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
        report_text = classification_report_text(test.labels, predictions, class_names)
        model_id = log_text_model(
            {"model": args.model, "vocab": args.tokens / "vocab.json", "preprocessing": args.preprocessing},
            test_frame[["text"]].head(EXAMPLES),
        )
        tracking.log_evaluation(
            {"test": metrics, "validation": valid_metrics},
            splits,
            report_files(args),
            params.dataset.name,
            model_id,
            misclassified,
            report_text,
        )
        log_data_docs(args.validated, params, labelled=True)
        log.info("logged metrics, reports and the raw-text model to MLflow run %s", run_id)
