"""The peers our models are measured against, trained on the same cleaned splits (for a ``jieba`` run, as
jieba's words: ``benchmarks.quality.Workbench.peer_splits``).

- TF-IDF over word uni+bigrams (sublinear tf) and LogisticRegression (scikit-learn), C chosen on the
  validation split.
- fastText (the ``fasttext-numpy2-wheel`` build of Facebook's binary), unigrams and bigrams, learning rate
  chosen on the validation split.

Both get the validation split for the one knob that matters most, as our models get it for early stopping.
With ``train.label_prior: valid`` TF-IDF+LR gets the same class-prior shift as our models (the validation
split's label frequencies over the training split's, :func:`pipelines.models.ensemble.log_prior_shift`), and C
is chosen with the shift in place. The fastText peers refuse it rather than run unshifted under a shifted
tag: they are scored by the binary's top-1 ``predict``; shifting them needs every label's probability
(``predict(k=-1)``), not built yet.
``seconds`` is the training time of the model whose accuracy is reported, not of the search.
fastText's trainer hangs once scikit-learn's LogisticRegression has run in the same process, so every
fastText training runs in a spawned process.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NAMES = ("tfidf-logreg", "fasttext-binary-unigram", "fasttext-binary-bigram")
PRIOR_SHIFTABLE = ("tfidf-logreg",)
LOGISTIC_C = (1.0, 4.0, 16.0, 64.0)
FASTTEXT_LR = (0.1, 0.25, 0.5, 1.0)
FASTTEXT_EPOCHS = 25
FASTTEXT_DIM = 100


@dataclass(frozen=True)
class Split:
    """Cleaned texts (tokens joined by spaces) and their label names."""

    texts: Sequence[str]
    labels: Sequence[str]


@dataclass(frozen=True)
class PeerResult:
    accuracy: float
    seconds: float
    setting: str


def tfidf_logistic_regression(
    train: Split, valid: Split, test: Split, seed: int, label_prior: str = "train"
) -> PeerResult:
    """``label_prior`` as ``train.label_prior`` for our models: ``valid`` shifts the predicted probabilities from
    the training split's class frequencies to the validation split's before taking the argmax; ``auto`` chooses
    with or without the shift on validation, with C."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    began = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+", lowercase=False)
    features = vectorizer.fit_transform(train.texts)
    vectorize_seconds = time.perf_counter() - began
    valid_features, test_features = vectorizer.transform(valid.texts), vectorizer.transform(test.texts)
    # LogisticRegression's classes_ are the sorted distinct training labels, so the shift lines up with them
    priors = {"train": ["train"], "valid": ["valid"], "auto": ["train", "valid"]}[label_prior]
    shifts = {
        prior: _log_prior_shift(np.unique(train.labels), train, valid) if prior == "valid" else 0.0 for prior in priors
    }
    best = None
    for c in LOGISTIC_C:
        began = time.perf_counter()
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(features, train.labels)
        seconds = vectorize_seconds + time.perf_counter() - began
        for prior in priors:
            score = _shifted_accuracy(model, valid_features, valid, shifts[prior])
            if best is None or score > best[0]:
                best = (score, c, prior, model, seconds)
    _, c, prior, model, seconds = best
    accuracy = _shifted_accuracy(model, test_features, test, shifts[prior])
    return PeerResult(accuracy, seconds, f"C={c:g}" + (", valid prior" if prior == "valid" else ""))


def _log_prior_shift(classes: np.ndarray, train: Split, valid: Split) -> np.ndarray:
    from pipelines.models.ensemble import log_prior_shift

    index = {label: i for i, label in enumerate(classes)}
    train_ids, valid_ids = (
        np.array([index[label] for label in split.labels if label in index]) for split in (train, valid)
    )
    return log_prior_shift(train_ids, valid_ids, len(classes))


def _shifted_accuracy(model, features, split: Split, log_shift: np.ndarray | float) -> float:
    scores = model.predict_log_proba(features) + log_shift
    predicted = model.classes_[scores.argmax(axis=1)]
    return float(np.mean(predicted == np.asarray(split.labels)))


def fasttext_binary(train: Split, valid: Split, test: Split, seed: int, word_ngrams: int, threads: int) -> PeerResult:
    """Train in a spawned process (see module docstring); the learning rate is picked on ``valid``."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_fasttext_in_process, (train, valid, test, seed, word_ngrams, threads))


def _fasttext_in_process(
    train: Split, valid: Split, test: Split, seed: int, word_ngrams: int, threads: int
) -> PeerResult:
    import fasttext

    with tempfile.TemporaryDirectory(prefix="textflow-fasttext-") as directory:
        train_file = Path(directory) / "train.txt"
        train_file.write_text(_labelled_lines(train), encoding="utf-8")
        best = None
        for lr in FASTTEXT_LR:
            began = time.perf_counter()
            model = fasttext.train_supervised(
                str(train_file),
                lr=lr,
                epoch=FASTTEXT_EPOCHS,
                wordNgrams=word_ngrams,
                dim=FASTTEXT_DIM,
                minCount=1,
                minn=0,
                maxn=0,
                loss="softmax",
                bucket=2_000_000 if word_ngrams > 1 else 0,
                thread=threads,
                seed=seed,
                verbose=0,
            )
            seconds = time.perf_counter() - began
            score = _accuracy(model, valid)
            if best is None or score > best[0]:
                best = (score, lr, model, seconds)
        _, lr, model, seconds = best
        return PeerResult(_accuracy(model, test), seconds, f"lr={lr:g}, epoch={FASTTEXT_EPOCHS}, dim={FASTTEXT_DIM}")


def _labelled_lines(split: Split) -> str:
    return "".join(f"__label__{label} {text}\n" for text, label in zip(split.texts, split.labels, strict=True))


def _accuracy(model, split: Split) -> float:
    predicted, _ = model.predict([text.replace("\n", " ") for text in split.texts])
    return float(
        np.mean([labels[0] == f"__label__{gold}" for labels, gold in zip(predicted, split.labels, strict=True)])
    )
