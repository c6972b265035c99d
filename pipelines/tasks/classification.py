"""``task: classification``: labelled texts, the classifier family of ``model.type``, cross-entropy selected on
validation accuracy in training and on ``register.metric`` in the registry, a confusion matrix and the raw-text
classifier pyfunc."""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import classification_report

from pipelines import tracking
from pipelines.config import Params
from pipelines.data.splits import complete_splits
from pipelines.evaluation import classification_metrics, confusion_frame, plot_confusion, split_hash
from pipelines.io import atomic_path, read_json, write_json
from pipelines.models import build_model, fit_to_training_split
from pipelines.models.ensemble import served_classifier
from pipelines.models.saved import load_model
from pipelines.tasks import Selection, Training
from pipelines.text.clean import CleanSettings, clean_texts
from pipelines.text.encode import EncodedCorpus, encode_corpus
from pipelines.text.preprocess import Preprocessor
from pipelines.text.sequences import EncodedSplit
from pipelines.text.stopwords import read_stopwords
from pipelines.text.vocab import Vocabulary
from pipelines.training.device import resolve_device
from pipelines.training.loop import ClassificationObjective, predict_probabilities

log = logging.getLogger("evaluate")
BATCH_SIZE = 256
EXAMPLES = 5


class ClassificationTask:
    labelled = True

    def selection(self, params: Params) -> Selection:
        return Selection(params.register.metric, higher_is_better=True)

    def complete_splits(self, published: dict[str, pd.DataFrame], params: Params):
        options = params.validate
        return complete_splits(published, options.valid_fraction, options.test_fraction, params.dataset.seed)

    def clean_texts(self, texts: list[str], params: Params, stopwords: list[str]) -> list[str]:
        return clean_texts(texts, CleanSettings.from_params(params.clean, stopwords), params.clean.workers)

    def encode(self, frames: dict[str, pd.DataFrame], params: Params) -> EncodedCorpus:
        return encode_corpus(frames, params.tokenize)

    def prepare_training(self, params: Params, tokens: Path, embeddings: Path) -> Training:
        vocabulary = Vocabulary.load(tokens / "vocab.json")
        class_names = read_json(tokens / "labels.json")
        vectors = np.load(embeddings) if params.model.embedding_init != "rand" else None
        torch.manual_seed(params.train.seed)
        model = build_model(params.model, len(vocabulary), len(class_names), vectors)
        fit_to_training_split(model, EncodedSplit.load(tokens / "train.npz"))
        inputs = [tokens / name for name in ("vocab.json", "labels.json", "train.npz", "valid.npz")] + [embeddings]
        return Training(
            model,
            inputs,
            "model",
            params.model,
            {"vocab_size": len(vocabulary), "num_classes": len(class_names), "class_names": class_names},
            params.model.type,
        )

    def ensemble(self, members: list[torch.nn.Module], tokens: Path, params: Params, device: torch.device):
        """The members as one model, weighted on the validation split (``train.ensemble_size``) and shifted to
        its class frequencies (``train.label_prior``)."""
        train, valid = (EncodedSplit.load(tokens / f"{split}.npz") for split in ("train", "valid"))
        return served_classifier(members, train, valid, params.train, device)

    def objective(self, training: Training, params: Params, tokens: Path, device: torch.device, run: Any):
        train, valid = (EncodedSplit.load(tokens / f"{split}.npz") for split in ("train", "valid"))
        log.info("%d train / %d valid examples", len(train), len(valid))
        return ClassificationObjective(train, valid, params.train, seed=params.train.seed, device=device)

    def evaluate(self, args: argparse.Namespace, params: Params) -> None:
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
        log.info(
            "test accuracy %.4f, macro-F1 %.4f on %d examples", metrics["accuracy"], metrics["macro_f1"], len(test)
        )

        test_frame = pd.read_parquet(args.validated / "test.parquet")
        hashes = {
            "test": split_hash(test_frame),
            "valid": split_hash(pd.read_parquet(args.validated / "valid.parquet")),
        }
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
            report_text = classification_report(
                test.labels,
                predictions,
                labels=list(range(len(class_names))),
                target_names=class_names,
                digits=4,
                zero_division=0,
            )
            tracking.log_evaluation(
                {"test": metrics, "validation": valid_metrics}, hashes, report_files(args), misclassified, report_text
            )
            preprocessor = Preprocessor.from_params(
                params.clean,
                params.tokenize,
                read_stopwords(args.stopwords),
                Vocabulary.load(args.tokens / "vocab.json"),
            )
            with tempfile.TemporaryDirectory() as scratch:
                preprocessing = Path(scratch, "preprocessing.json")
                write_json(preprocessing, preprocessor.config)
                tracking.log_text_model(
                    {"model": args.model, "vocab": args.tokens / "vocab.json", "preprocessing": preprocessing},
                    test_frame[["text"]].head(EXAMPLES),
                )
            log.info("logged metrics, reports and the raw-text model to MLflow run %s", run_id)


def report_files(args: argparse.Namespace) -> list[Path]:
    """The files every evaluation logs to its run beside the task's own figures."""
    figures = sorted(path for path in args.figures.glob("*") if path.suffix in (".png", ".txt"))
    return [args.metrics, *figures, args.validation, Path(args.params), Path("dvc.lock"), args.tokens / "vocab.json"]
