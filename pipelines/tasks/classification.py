"""``task: classification``: labelled texts, the classifier family of ``model.type``, cross-entropy selected on
validation accuracy in training and on ``register.metric`` in the registry, a confusion matrix and the raw-text
classifier pyfunc.

Each method imports the code it runs, so a stage's process loads only its own part of the task (validate the
split code, train the models and the loop, ...) and dvc.yaml can declare exactly that code as the stage's deps
(tests/test_declared_inputs.py checks it)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pipelines.config import Params
from pipelines.tasks import Selection, Training

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

    import pandas as pd
    import torch

    from pipelines.text.encode import EncodedCorpus

log = logging.getLogger("train")


class ClassificationTask:
    labelled = True

    def selection(self, params: Params) -> Selection:
        return Selection(params.register.metric, higher_is_better=True)

    def complete_splits(self, published: dict[str, pd.DataFrame], params: Params):
        from pipelines.data.splits import complete_splits

        options = params.validate
        return complete_splits(published, options.valid_fraction, options.test_fraction, params.dataset.seed)

    def clean_texts(self, texts: list[str], params: Params, stopwords: list[str]) -> list[str]:
        from pipelines.text.clean import CleanSettings, clean_texts

        return clean_texts(texts, CleanSettings.from_params(params.clean, stopwords), params.clean.workers)

    def encode(self, frames: dict[str, pd.DataFrame], params: Params) -> EncodedCorpus:
        from pipelines.text.encode import encode_corpus

        return encode_corpus(frames, params.tokenize)

    def prepare_training(self, params: Params, tokens: Path, embeddings: Path) -> Training:
        import numpy as np
        import torch

        from pipelines.common.io import read_json
        from pipelines.models import build_model, fit_to_training_split
        from pipelines.text.sequences import EncodedSplit
        from pipelines.text.vocab import Vocabulary

        vocabulary = Vocabulary.load(tokens / "vocab.json")
        class_names = read_json(tokens / "labels.json")
        vectors = np.load(embeddings) if params.model.embedding_init != "rand" else None
        torch.manual_seed(params.train.seed)
        model = build_model(params.model, len(vocabulary), len(class_names), vectors)
        fit_to_training_split(model, EncodedSplit.load(tokens / "train.npz"))
        return Training(
            model,
            "model",
            params.model,
            {"vocab_size": len(vocabulary), "num_classes": len(class_names), "class_names": class_names},
            params.model.type,
        )

    def ensemble(self, members: list[torch.nn.Module], tokens: Path, params: Params, device: torch.device):
        """The members as one model, weighted on the validation split (``train.ensemble_size``) and shifted to
        its class frequencies (``train.label_prior``)."""
        from pipelines.models.ensemble import served_classifier
        from pipelines.text.sequences import EncodedSplit

        train, valid = (EncodedSplit.load(tokens / f"{split}.npz") for split in ("train", "valid"))
        return served_classifier(members, train, valid, params.train, device)

    def objective(self, training: Training, params: Params, tokens: Path, device: torch.device, run: Any):
        from pipelines.text.sequences import EncodedSplit
        from pipelines.training.loop import ClassificationObjective

        train, valid = (EncodedSplit.load(tokens / f"{split}.npz") for split in ("train", "valid"))
        log.info("%d train / %d valid examples", len(train), len(valid))
        return ClassificationObjective(train, valid, params.train, seed=params.train.seed, device=device)

    def evaluate(self, args: argparse.Namespace, params: Params) -> None:
        """Score on validation and test; write metrics, the per-example confusion table for ``dvc plots`` and
        a confusion-matrix PNG (test); log all of it, both splits' content hashes and the raw-text model."""
        from pipelines.evaluation.classifier import evaluate_classifier

        evaluate_classifier(args, params)
