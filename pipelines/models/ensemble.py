"""Seed ensembles: N trainings of one classifier (seeds ``train.seed``, ``+1``, ...) served as one model that
averages their class probabilities.

The weights are chosen on the validation split, never on test, by greedy ensemble selection with replacement
(Caruana et al. 2004): ``len(members)`` times, add the member whose addition gives the best validation
accuracy (ties: the lower log-loss, then the lower member index), and keep the mixture of the best step; a
member's weight is how often it was added by then. Uniform averaging is one possible outcome, and a member
that only hurts on validation gets weight 0.

``train.label_prior: valid`` adds a per-class shift ``log(valid frequency / train frequency)`` to the mixture's
log probabilities: Bayes' rule for a change of class prior (Saerens et al. 2002), for training data whose label
mix is not that of the texts scored. SST's training phrases are 51% neutral, its sentences 19%, so a model
trained on phrases over-predicts neutral on sentences. Only label counts are used, never predictions, and the
weights are chosen with the shift in place. A single model with a shift is served as a one-member ensemble.
``train.label_prior: auto`` serves whichever of the two scores the higher validation accuracy (ties: no shift).
The shift changes no weight of a member, so choosing it costs one more pass over the validation probabilities,
where a search drawing it as a setting costs a training per draw and may never draw it again beside good values
of the others (issue 27's SST-2 search did just that).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from pipelines.config import Params, TrainParams
from pipelines.text.sequences import EncodedSplit
from pipelines.training.loop import predict_probabilities

PROBABILITY_FLOOR = 1e-12


class EnsembleClassifier(nn.Module):
    """Returns the log of the weighted mean probability plus the log prior shift (zero unless
    ``train.label_prior`` set one), so softmax of its output is the mean re-weighted to the target class
    frequencies (what the evaluate stage and the served pyfunc read) and argmax is the ensemble's vote."""

    def __init__(
        self,
        members: Sequence[nn.Module],
        weights: Sequence[float] | None = None,
        log_prior_shift: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        uniform = [1.0 / len(members)] * len(members)
        self.register_buffer("weights", torch.tensor(uniform if weights is None else list(weights)))
        shift = torch.zeros(0) if log_prior_shift is None else torch.as_tensor(log_prior_shift, dtype=torch.float32)
        self.register_buffer("log_prior_shift", shift.clone())
        self.min_length = max(getattr(member, "min_length", 1) for member in members)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """Ensembles saved before the shift existed load with none; a saved shift sizes the buffer."""
        key = f"{prefix}log_prior_shift"
        state_dict.setdefault(key, torch.zeros(0))
        self.log_prior_shift = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mixed = sum(
            weight * torch.softmax(member(ids).float(), dim=1)
            for weight, member in zip(self.weights, self.members, strict=True)
        )
        logits = torch.log(mixed.clamp(min=PROBABILITY_FLOOR))
        return logits + self.log_prior_shift if len(self.log_prior_shift) else logits


def member_params(params: Params, member: int) -> Params:
    """Member ``member`` trains as the same run with ``train.seed + member`` (member 0 is the run itself)."""
    return params.model_copy(update={"train": params.train.model_copy(update={"seed": params.train.seed + member})})


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
            truth = mixed[rows, labels] / mixed.sum(axis=1)
            log_loss = float(-np.log(np.clip(truth, PROBABILITY_FLOOR, None)).mean())
            candidates.append((-accuracy, log_loss, index))
        score = min(candidates)
        counts[score[2]] += 1
        total += probabilities[score[2]]
        if best_score is None or score[:2] < best_score:
            best_score, best_counts = score[:2], counts.copy()
    return best_counts / best_counts.sum()


def log_prior_shift(train_labels: np.ndarray, target_labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``log(target frequency / training frequency)`` per class; counts get one added so a class absent from
    either split keeps a finite shift."""
    train = np.bincount(train_labels, minlength=num_classes) + 1.0
    target = np.bincount(target_labels, minlength=num_classes) + 1.0
    return np.log(target / target.sum()) - np.log(train / train.sum())


def wraps_members(train: TrainParams) -> bool:
    """Whether the served model is an :class:`EnsembleClassifier` rather than the one trained member."""
    return train.ensemble_size > 1 or train.label_prior != "train"


def weighted_ensemble(
    members: Sequence[nn.Module],
    valid: EncodedSplit,
    device: torch.device,
    batch_size: int = 256,
    train_labels: np.ndarray | None = None,
) -> tuple[EnsembleClassifier, dict[str, object]]:
    """The ensemble of trained ``members`` with weights chosen on ``valid``; and a report of each member's and
    the ensemble's validation accuracy and the weights. Given ``train_labels``, the ensemble is shifted from
    their class frequencies to ``valid``'s, and the weights are chosen (and accuracies reported) with the shift
    in place."""
    probabilities = [predict_probabilities(member, valid, batch_size, device) for member in members]
    shift = None if train_labels is None else log_prior_shift(train_labels, valid.labels, probabilities[0].shape[1])
    return _weighted(members, probabilities, valid.labels, shift)


def _weighted(
    members: Sequence[nn.Module], probabilities: list[np.ndarray], labels: np.ndarray, shift: np.ndarray | None
) -> tuple[EnsembleClassifier, dict[str, object]]:
    if shift is not None:
        probabilities = [member * np.exp(shift) for member in probabilities]
    weights = choose_weights(probabilities, labels)
    ensemble = EnsembleClassifier(members, weights.tolist(), None if shift is None else shift.tolist())
    mixed = sum(weight * member for weight, member in zip(weights, probabilities, strict=True))
    report = {
        "weights": [round(float(weight), 6) for weight in weights],
        "member_valid_accuracy": [float((member.argmax(axis=1) == labels).mean()) for member in probabilities],
        "valid_accuracy": float((mixed.argmax(axis=1) == labels).mean()),
    }
    if shift is not None:
        report["log_prior_shift"] = [round(float(value), 6) for value in shift]
    return ensemble, report


def served_classifier(
    members: Sequence[nn.Module], train: EncodedSplit, valid: EncodedSplit, params: TrainParams, device: torch.device
) -> tuple[nn.Module, dict[str, object]]:
    """What the train stage saves and the benchmark scores: the one member as trained (and an empty report),
    or the members as one :class:`EnsembleClassifier` weighted on ``valid`` (and shifted to ``valid``'s class
    frequencies when ``train.label_prior`` is valid)."""
    if not wraps_members(params):
        return members[0], {}
    if params.label_prior == "auto":
        return prior_chosen_on_validation(members, train, valid, device)
    prior_from = train.labels if params.label_prior == "valid" else None
    return weighted_ensemble(members, valid, device, train_labels=prior_from)


def prior_chosen_on_validation(
    members: Sequence[nn.Module], train: EncodedSplit, valid: EncodedSplit, device: torch.device, batch_size: int = 256
) -> tuple[EnsembleClassifier, dict[str, object]]:
    """``train.label_prior: auto``: the ensemble weighted without the shift and the one weighted with it, the one
    with the higher validation accuracy served (ties: without); the report names the prior chosen and both
    accuracies."""
    probabilities = [predict_probabilities(member, valid, batch_size, device) for member in members]
    shift = log_prior_shift(train.labels, valid.labels, probabilities[0].shape[1])
    candidates = {
        prior: _weighted(members, probabilities, valid.labels, prior_shift)
        for prior, prior_shift in (("train", None), ("valid", shift))
    }
    accuracy = {prior: float(report["valid_accuracy"]) for prior, (_, report) in candidates.items()}
    chosen = "valid" if accuracy["valid"] > accuracy["train"] else "train"
    ensemble, report = candidates[chosen]
    return ensemble, report | {"label_prior": chosen, "valid_accuracy_by_label_prior": accuracy}


def ensemble_summary(report: dict[str, Any]) -> str:
    """One line of a :func:`served_classifier` report for the train log: validation accuracy, each member's,
    the weights, and the prior shift and the prior ``auto`` chose where there is one."""
    members = ", ".join(f"{value:.4f}" for value in report["member_valid_accuracy"])
    line = f"validation accuracy {report['valid_accuracy']:.4f} (members {members}), weights {report['weights']}"
    if "log_prior_shift" in report:
        line += f", log prior shift {report['log_prior_shift']}"
    if "label_prior" in report:
        accuracies = ", ".join(
            f"{prior} {accuracy:.4f}" for prior, accuracy in report["valid_accuracy_by_label_prior"].items()
        )
        line += f", label prior {report['label_prior']} chosen on validation ({accuracies})"
    return line
