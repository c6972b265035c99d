"""The training loop: epochs over seeded batches, validation, early stopping, and a checkpoint every epoch.

A checkpoint holds everything the next epoch depends on (model, optimizer, learning-rate schedule, CPU and
CUDA RNG states for dropout, best weights so far, early-stopping counters, history), so a run killed at any point and
started again ends with exactly the weights and metrics of an uninterrupted run. A checkpoint carries a fingerprint of
the inputs and params that produced it; one from a different configuration is ignored, never resumed.
Checkpoints hold only tensors and plain values and are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from pipelines.common.io import save_torch
from pipelines.common.progress import progress
from pipelines.config import TrainParams
from pipelines.text.sequences import EncodedSplit
from pipelines.training.batches import iterate_batches
from pipelines.training.device import mixed_precision_enabled
from pipelines.training.lazy_adam import LazyAdam, clip_gradient_norm, has_sparse_gradients

log = logging.getLogger(__name__)

LBFGS_ITERATIONS_PER_EPOCH = 20
"""``train.optimizer: lbfgs``: L-BFGS iterations between two validations (torch's default ``max_iter``)."""


@dataclass
class TrainResult:
    """``best_score``: the best validation value of the objective's metric (accuracy, perplexity, ...).

    ``history`` holds what an epoch computed (losses, scores, the learning rate): the same bytes on every run
    of the same configuration, so it may be written into a DVC output. Wall-clock observations (seconds,
    throughput) differ on every run and live apart, in ``epoch_timings``, for logs and MLflow only."""

    history: list[dict[str, float]] = field(default_factory=list)
    epoch_timings: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = 0.0
    stopped_early: bool = False
    resumed_from_epoch: int = 0
    seconds: float = 0.0


class Objective(Protocol):
    """What a task trains for. ``train_epoch`` runs one epoch's batches, passing each batch's loss to
    ``trainer.step``, and returns the epoch's ``train_*`` values; ``validate`` returns ``valid_loss`` and
    ``valid_<metric>``; ``metric`` and its direction decide the best epoch and early stopping."""

    metric: str
    higher_is_better: bool
    steps_per_epoch: int
    timing_keys: tuple[str, ...]  # keys of train_epoch's result that are wall-clock observations

    def train_epoch(self, model: nn.Module, epoch: int, trainer: Trainer) -> dict[str, float]: ...

    def validate(self, model: nn.Module) -> dict[str, float]: ...


class Trainer:
    """One optimisation step for an objective: backward (scaled under mixed precision), clipping, the
    optimizer and schedule steps, and the model's constraints (TextCNN's max-norm)."""

    def __init__(self, model, optimizer, schedule, scaler, params: TrainParams, device: torch.device, use_amp: bool):
        self.model, self.optimizer, self.schedule, self.scaler = model, optimizer, schedule, scaler
        self.params, self.device, self.use_amp = params, device, use_amp
        self.clip = clip_gradient_norm if has_sparse_gradients(model) else nn.utils.clip_grad_norm_

    def autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.use_amp)

    def step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.params.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            self.clip(self.model.parameters(), self.params.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.schedule.step()
        if hasattr(self.model, "apply_constraints"):
            self.model.apply_constraints()


def make_optimizer(model: nn.Module, params: TrainParams) -> torch.optim.Optimizer:
    """The optimizer ``train.optimizer`` names; ``adam`` over a model with sparse embedding gradients is
    :class:`LazyAdam` (the config refuses the other optimizers that would not apply them at a batch's cost)."""
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    options = dict(lr=params.learning_rate, weight_decay=params.weight_decay)
    if params.optimizer == "adam" and has_sparse_gradients(model):
        return LazyAdam(trainable, **options)
    if params.optimizer == "adam":
        return torch.optim.Adam(trainable, **options)
    if params.optimizer == "adamw":
        return torch.optim.AdamW(trainable, **options)
    if params.optimizer == "adadelta":
        return torch.optim.Adadelta(trainable, rho=0.95, eps=1e-6, **options)
    if params.optimizer == "lbfgs":  # weight decay is part of the loss it minimises (ClassificationObjective)
        return torch.optim.LBFGS(
            trainable, lr=params.learning_rate, max_iter=LBFGS_ITERATIONS_PER_EPOCH, line_search_fn="strong_wolfe"
        )
    return torch.optim.SGD(trainable, momentum=params.momentum, **options)


def make_schedule(optimizer: torch.optim.Optimizer, params: TrainParams, steps_per_epoch: int, decay: dict):
    """Per-step learning-rate factor: ``constant`` 1; ``linear`` and ``cosine`` decay to 0 at the last step of
    ``train.epochs`` (early stopping may end sooner, at a higher rate); ``plateau`` and ``step``:
    ``decay["scale"]``, which the loop multiplies by ``train.decay_factor`` after an epoch (see
    :func:`decays_after`)."""
    total = max(params.epochs * steps_per_epoch, 1)
    factors = {
        "constant": lambda step: 1.0,
        "linear": lambda step: max(0.0, 1.0 - step / total),
        "cosine": lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total)),
        "plateau": lambda step: decay["scale"],
        "step": lambda step: decay["scale"],
    }
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factors[params.lr_schedule])


def decays_after(params: TrainParams, epoch: int, improved: bool) -> bool:
    """Whether the learning rate shrinks after ``epoch``: ``plateau`` when it did not improve the validation
    score, ``step`` once ``train.decay_after`` epochs have run at the full rate."""
    if params.lr_schedule == "plateau":
        return not improved
    return params.lr_schedule == "step" and epoch >= params.decay_after


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


@torch.no_grad()
def predict_probabilities(
    model: nn.Module, split: EncodedSplit, batch_size: int, device: torch.device, mixed_precision: bool = False
) -> np.ndarray:
    """Class probabilities [rows, classes] in row order (batches are formed by length, then put back)."""
    model.eval()
    probabilities = None
    for rows, ids, _ in iterate_batches(split, batch_size, shuffle=False, min_length=getattr(model, "min_length", 1)):
        with autocast(device, mixed_precision):
            logits = model(ids.to(device))
        if probabilities is None:
            probabilities = np.zeros((len(split), logits.shape[1]), dtype=np.float32)
        probabilities[rows] = torch.softmax(logits.float(), dim=1).cpu().numpy()
    return probabilities if probabilities is not None else np.zeros((0, 0), dtype=np.float32)


def evaluate_loss_accuracy(
    model: nn.Module, split: EncodedSplit, batch_size: int, device: torch.device, mixed_precision: bool
) -> tuple[float, float]:
    probabilities = predict_probabilities(model, split, batch_size, device, mixed_precision)
    picked = probabilities[np.arange(len(split)), split.labels]
    loss = float(-np.log(np.clip(picked, 1e-12, None)).mean())
    accuracy = float((probabilities.argmax(axis=1) == split.labels).mean())
    return loss, accuracy


class ClassificationObjective:
    """Cross-entropy over labelled texts; selected on validation accuracy."""

    metric = "accuracy"
    higher_is_better = True
    timing_keys = ()

    def __init__(
        self, train: EncodedSplit, valid: EncodedSplit, params: TrainParams, *, seed: int, device: torch.device
    ):
        self.train, self.valid, self.params, self.seed, self.device = train, valid, params, seed, device
        self.steps_per_epoch = math.ceil(len(train) / params.batch_size)
        self.use_amp = mixed_precision_enabled(params, device)
        self.loss_function = nn.CrossEntropyLoss()

    def train_epoch(self, model: nn.Module, epoch: int, trainer: Trainer) -> dict[str, float]:
        if isinstance(trainer.optimizer, torch.optim.LBFGS):
            return self.train_epoch_full_batch(model, trainer.optimizer)
        total_loss, correct, seen = 0.0, 0, 0
        batches = iterate_batches(
            self.train,
            self.params.batch_size,
            shuffle=True,
            seed=self.seed,
            epoch=epoch,
            min_length=getattr(model, "min_length", 1),
            length_buckets=self.params.length_buckets,
        )
        for _, ids, labels in progress(batches, total=self.steps_per_epoch, desc=f"epoch {epoch}", unit="batch"):
            ids, labels = ids.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)
            with trainer.autocast():
                logits = model(ids)
                loss = self.loss_function(logits.float(), labels)
            trainer.step(loss)
            total_loss += float(loss.detach()) * len(labels)
            correct += int((logits.argmax(dim=1) == labels).sum())
            seen += len(labels)
        return {"train_loss": total_loss / max(seen, 1), "train_accuracy": correct / max(seen, 1)}

    def train_epoch_full_batch(self, model: nn.Module, optimizer: torch.optim.LBFGS) -> dict[str, float]:
        """``LBFGS_ITERATIONS_PER_EPOCH`` L-BFGS iterations on the mean cross-entropy over the whole training
        split plus ``weight_decay / 2`` times the squared norm of every weight matrix (biases unpenalised, as in
        scikit-learn's ``LogisticRegression``, whose ``C`` is ``1 / (weight_decay * rows)``, or ``2 / (...)`` with
        two classes, where its one weight vector carries what our two softmax columns share). Gradients are summed
        over batches of ``batch_size`` rows, so activations stay a batch's (the split's ids move to the device once
        an epoch); in float32, since the line search compares losses too closely for half precision. The
        ``train_*`` values are the fit's after the epoch's steps, measured as :meth:`validate` measures."""
        batches = [
            (ids.to(self.device), labels.to(self.device))
            for _, ids, labels in iterate_batches(
                self.train, self.params.batch_size, shuffle=False, min_length=getattr(model, "min_length", 1)
            )
        ]
        rows = max(len(self.train), 1)
        penalised = [p for group in optimizer.param_groups for p in group["params"] if p.dim() > 1]

        def loss_and_gradient() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=False)
            total = torch.zeros((), device=self.device)
            for ids, labels in batches:
                loss = self.loss_function(model(ids).float(), labels) * (len(labels) / rows)
                loss.backward()
                total += loss.detach()
            if self.params.weight_decay > 0 and penalised:
                penalty = 0.5 * self.params.weight_decay * sum(p.pow(2).sum() for p in penalised)
                penalty.backward()
                total += penalty.detach()
            return total

        optimizer.step(loss_and_gradient)
        loss, accuracy = evaluate_loss_accuracy(model, self.train, self.params.batch_size, self.device, False)
        return {"train_loss": loss, "train_accuracy": accuracy}

    def validate(self, model: nn.Module) -> dict[str, float]:
        loss, accuracy = evaluate_loss_accuracy(model, self.valid, self.params.batch_size, self.device, self.use_amp)
        return {"valid_loss": loss, "valid_accuracy": accuracy}


def train_model(
    model: nn.Module,
    train: EncodedSplit,
    valid: EncodedSplit,
    params: TrainParams,
    *,
    seed: int,
    device: torch.device,
    checkpoint_path: Path | None = None,
    fingerprint: str = "",
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train a classifier in place (see :func:`fit`)."""
    objective = ClassificationObjective(train, valid, params, seed=seed, device=device)
    return fit(
        model,
        objective,
        params,
        seed=seed,
        device=device,
        checkpoint_path=checkpoint_path,
        fingerprint=fingerprint,
        on_epoch=on_epoch,
    )


def fit(
    model: nn.Module,
    objective: Objective,
    params: TrainParams,
    *,
    seed: int,
    device: torch.device,
    checkpoint_path: Path | None = None,
    fingerprint: str = "",
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> TrainResult:
    """Train in place; on return ``model`` holds the weights of the best validation epoch.

    Every epoch's checkpoint is written before anything leaves the process: then ``on_epoch`` gets the
    epoch's values with its timings (for MLflow) and ``on_checkpoint`` the checkpoint's path (to copy it off
    the worker), so a tracking server or object store that is down can cost a log line, never an epoch.

    Seed torch before building ``model`` too: its initial weights come from the global generator."""
    torch.manual_seed(seed)
    model.to(device)
    optimizer = make_optimizer(model, params)
    decay = {"scale": 1.0}
    schedule = make_schedule(optimizer, params, objective.steps_per_epoch, decay)
    use_amp = mixed_precision_enabled(params, device)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    trainer = Trainer(model, optimizer, schedule, scaler, params, device, use_amp)
    score_key = f"valid_{objective.metric}"
    sign = 1.0 if objective.higher_is_better else -1.0
    result = TrainResult()
    best_state = copy.deepcopy(model.state_dict())
    stale_epochs = 0
    start_epoch = 1
    if checkpoint_path is not None and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path, fingerprint)
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            if use_amp:
                scaler.load_state_dict(state["scaler"])
            torch.set_rng_state(state["torch_rng"])
            if device.type == "cuda" and state.get("cuda_rng"):
                torch.cuda.set_rng_state_all(state["cuda_rng"])
            best_state = state["best_model"]
            stale_epochs = state["stale_epochs"]
            decay["scale"] = state["decay_scale"]
            result.history = state["history"]
            result.best_epoch = state["best_epoch"]
            result.best_score = state["best_score"]
            start_epoch = state["epoch"] + 1
            result.resumed_from_epoch = state["epoch"]
            log.info("resumed from checkpoint %s after epoch %d", checkpoint_path, state["epoch"])
            if on_epoch is not None:  # a resumed run reports the epochs it inherited, so its curves are whole
                for row in result.history:
                    on_epoch(row)
    began = time.perf_counter()
    for epoch in range(start_epoch, params.epochs + 1):
        if stale_epochs >= params.patience:
            break
        epoch_began = time.perf_counter()
        model.train()
        trained = objective.train_epoch(model, epoch, trainer)
        validated = objective.validate(model)
        timing_keys = getattr(objective, "timing_keys", ())
        values = {key: value for key, value in {**trained, **validated}.items() if key not in timing_keys}
        row = {"epoch": epoch, **{key: round(value, 6) for key, value in values.items()}}
        row["learning_rate"] = round(optimizer.param_groups[0]["lr"], 8)
        timing = {"seconds": round(time.perf_counter() - epoch_began, 3)}
        timing |= {key: round(trained[key], 3) for key in timing_keys if key in trained}
        score = validated[score_key]
        improved = sign * score > sign * result.best_score or result.best_epoch == 0
        if improved:
            result.best_epoch, result.best_score = epoch, score
            best_state = copy_state(model.state_dict(), into=best_state)
            stale_epochs = 0
        else:
            stale_epochs += 1
        if decays_after(params, epoch, improved):  # from the next step on, not one step late
            decay["scale"] *= params.decay_factor
            for group, base in zip(optimizer.param_groups, schedule.base_lrs, strict=True):
                group["lr"] = base * decay["scale"]
        result.history.append(row)
        result.epoch_timings.append({"epoch": epoch, **timing})
        shown = "  ".join(f"{key} {value:.4f}" for key, value in row.items() if key != "epoch")
        log.info(
            "epoch %d/%d  %s  %.1fs%s", epoch, params.epochs, shown, timing["seconds"], "  *best" if improved else ""
        )
        if checkpoint_path is not None:
            save_checkpoint(
                checkpoint_path,
                {
                    "fingerprint": fingerprint,
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "scaler": scaler.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
                    "best_model": best_state,
                    "best_epoch": result.best_epoch,
                    "best_score": result.best_score,
                    "stale_epochs": stale_epochs,
                    "decay_scale": decay["scale"],
                    "history": result.history,
                },
            )
        if on_epoch is not None:
            on_epoch(row | timing)
        if checkpoint_path is not None and on_checkpoint is not None:
            on_checkpoint(checkpoint_path)
    result.stopped_early = stale_epochs >= params.patience and result.history[-1]["epoch"] < params.epochs
    model.load_state_dict(best_state)
    result.seconds = round(time.perf_counter() - began, 3)
    return result


def copy_state(state: dict[str, Any], into: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of ``state`` that later steps cannot change, written into ``into``'s tensors when they have the same
    keys, shapes, dtypes and devices. Copying into memory already held is several times faster than allocating
    it again (fastText's 2M x 100 table: 0.12 s against 0.66 s for each improved epoch)."""
    reusable = (
        into is not None
        and into.keys() == state.keys()
        and all(
            isinstance(value, torch.Tensor)
            and isinstance(into[key], torch.Tensor)
            and into[key].shape == value.shape
            and into[key].dtype == value.dtype
            and into[key].device == value.device
            for key, value in state.items()
        )
    )
    if not reusable:
        return copy.deepcopy(state)
    for key, value in state.items():
        into[key].copy_(value)
    return into


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    save_torch(path, state)


def load_checkpoint(path: Path, fingerprint: str) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it was written by the same configuration, else None."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a torn or foreign file must not stop a fresh start
        log.warning("ignoring unreadable checkpoint %s: %s", path, error)
        return None
    if state.get("fingerprint") != fingerprint:
        log.info("ignoring checkpoint %s: it was written for other inputs or params", path)
        return None
    return state
