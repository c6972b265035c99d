"""The evaluate stage's scores, computed from one confusion matrix, equal scikit-learn's definitions: the same
per-class precision, recall, F1 and support (``zero_division=0``) and the same classification report text."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import classification_report, confusion_matrix, precision_recall_fscore_support

from pipelines.evaluation.metrics import classification_metrics, classification_report_text, confusion_counts

# a class missing from the labels, a class never predicted, a single class, long and short names
CASES = {
    "balanced": (["neg", "pos"], [0, 1, 0, 1, 1, 0, 1, 1], [0, 1, 1, 1, 0, 0, 1, 1]),
    "class never predicted": (["a", "b", "c"], [0, 1, 2, 2, 1, 0], [0, 1, 1, 1, 1, 0]),
    "class absent from labels": (["a", "b", "c"], [0, 0, 1, 1], [0, 2, 1, 1]),
    "one class": (["only"], [0, 0, 0], [0, 0, 0]),
    "long names": (["a category name longer than the averages", "b"], [0, 1, 1], [1, 1, 0]),
}


def random_case(seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    generator = np.random.default_rng(seed)
    classes = int(generator.integers(2, 9))
    size = int(generator.integers(1, 400))
    labels = generator.integers(0, classes, size)
    predictions = np.where(generator.random(size) < 0.6, labels, generator.integers(0, classes, size))
    return [f"class_{index}" for index in range(classes)], labels, predictions


@pytest.fixture(params=[*CASES, *(f"random {seed}" for seed in range(20))])
def case(request: pytest.FixtureRequest) -> tuple[list[str], np.ndarray, np.ndarray]:
    if request.param in CASES:
        names, labels, predictions = CASES[request.param]
        return names, np.asarray(labels), np.asarray(predictions)
    return random_case(int(request.param.split()[1]))


@pytest.mark.filterwarnings("ignore:A single label was found")  # scikit-learn's, for the one-class case
def test_scores_equal_scikit_learns(case: tuple[list[str], np.ndarray, np.ndarray]) -> None:
    names, labels, predictions = case
    indices = list(range(len(names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=indices, zero_division=0
    )
    metrics = classification_metrics(labels, predictions, names)
    for index, name in enumerate(names):
        scores = metrics["per_class"][name]
        assert scores["precision"] == pytest.approx(precision[index], abs=1e-6)
        assert scores["recall"] == pytest.approx(recall[index], abs=1e-6)
        assert scores["f1"] == pytest.approx(f1[index], abs=1e-6)
        assert scores["support"] == support[index]
    assert metrics["macro_f1"] == pytest.approx(f1.mean(), abs=1e-6)
    assert metrics["macro_precision"] == pytest.approx(precision.mean(), abs=1e-6)
    assert metrics["macro_recall"] == pytest.approx(recall.mean(), abs=1e-6)
    assert np.array_equal(
        confusion_counts(labels, predictions, len(names)), confusion_matrix(labels, predictions, labels=indices)
    )


def test_report_text_equals_scikit_learns(case: tuple[list[str], np.ndarray, np.ndarray]) -> None:
    names, labels, predictions = case
    expected = classification_report(
        labels, predictions, labels=list(range(len(names))), target_names=names, digits=4, zero_division=0
    )
    assert classification_report_text(labels, predictions, names) == expected
