"""Seed ensembles: N trainings of one classifier (seeds ``train.seed``, ``+1``, ...) served as one model that
averages their class probabilities.

The weights are chosen on the validation split, never on test, by greedy ensemble selection with replacement
(Caruana et al. 2004): ``len(members)`` times, add the member whose addition gives the best validation
accuracy (ties: the lower log-loss, then the lower member index), and keep the mixture of the best step; a
member's weight is how often it was added by then. Uniform averaging is one possible outcome, and a member
that only hurts on validation gets weight 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from pipelines.config import Params
from pipelines.text.sequences import EncodedSplit
from pipelines.training.loop import predict_probabilities

PROBABILITY_FLOOR = 1e-12


class EnsembleClassifier(nn.Module):
    """Returns log of the weighted mean probability, so softmax of its output is that mean (what the
    evaluate stage and the served pyfunc read) and argmax is the ensemble's vote."""

    def __init__(self, members: Sequence[nn.Module], weights: Sequence[float] | None = None) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        uniform = [1.0 / len(members)] * len(members)
        self.register_buffer("weights", torch.tensor(uniform if weights is None else list(weights)))
        self.min_length = max(getattr(member, "min_length", 1) for member in members)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mixed = sum(
            weight * torch.softmax(member(ids).float(), dim=1)
            for weight, member in zip(self.weights, self.members, strict=True)
        )
        return torch.log(mixed.clamp(min=PROBABILITY_FLOOR))


def member_params(params: Params, member: int) -> Params:
    """Member ``member`` trains as the same run with ``train.seed + member`` (member 0 is the run itself)."""
    return dataclasses.replace(params, train=dataclasses.replace(params.train, seed=params.train.seed + member))


def choose_weights(probabilities: Sequence[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """Greedy selection with replacement on validation: ``[members]`` weights summing to 1, from the step
    (of ``len(members)``) whose mixture scored best, so the ensemble never scores below its best member."""
    counts = np.zeros(len(probabilities))
    total = np.zeros_like(probabilities[0], dtype=np.float64)
    rows = np.arange(len(labels))
    best_score, best_counts = None, counts
    for step in range(1, len(probabilities) + 1):
        candidates = []
        for index, member in enumerate(probabilities):
            mixed = (total + member) / step
            accuracy = float((mixed.argmax(axis=1) == labels).mean())
            log_loss = float(-np.log(np.clip(mixed[rows, labels], PROBABILITY_FLOOR, None)).mean())
            candidates.append((-accuracy, log_loss, index))
        score = min(candidates)
        counts[score[2]] += 1
        total += probabilities[score[2]]
        if best_score is None or score[:2] < best_score:
            best_score, best_counts = score[:2], counts.copy()
    return best_counts / best_counts.sum()


def weighted_ensemble(
    members: Sequence[nn.Module], valid: EncodedSplit, device: torch.device, batch_size: int = 256
) -> tuple[EnsembleClassifier, dict[str, object]]:
    """The ensemble of trained ``members`` with weights chosen on ``valid``; and a report of each member's and
    the ensemble's validation accuracy and the weights."""
    probabilities = [predict_probabilities(member, valid, batch_size, device) for member in members]
    weights = choose_weights(probabilities, valid.labels)
    ensemble = EnsembleClassifier(members, weights.tolist())
    mixed = sum(weight * member for weight, member in zip(weights, probabilities, strict=True))
    report = {
        "weights": [round(float(weight), 6) for weight in weights],
        "member_valid_accuracy": [float((member.argmax(axis=1) == valid.labels).mean()) for member in probabilities],
        "valid_accuracy": float((mixed.argmax(axis=1) == valid.labels).mean()),
    }
    return ensemble, report
