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
from typing import Any

import numpy as np
import torch
from torch import nn

from pipelines.config import TrainParams
from pipelines.io import save_torch
from pipelines.progress import progress
from pipelines.text.sequences import EncodedSplit
from pipelines.training.batches import iterate_batches
from pipelines.training.device import mixed_precision_enabled

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_valid_accuracy: float = 0.0
    stopped_early: bool = False
    resumed_from_epoch: int = 0
    seconds: float = 0.0


def make_optimizer(model: nn.Module, params: TrainParams) -> torch.optim.Optimizer:
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    options = dict(lr=params.learning_rate, weight_decay=params.weight_decay)
    if params.optimizer == "adam":
        return torch.optim.Adam(trainable, **options)
    if params.optimizer == "adamw":
        return torch.optim.AdamW(trainable, **options)
    if params.optimizer == "adadelta":
        return torch.optim.Adadelta(trainable, rho=0.95, eps=1e-6, **options)
    return torch.optim.SGD(trainable, momentum=0.9, **options)


def make_schedule(optimizer: torch.optim.Optimizer, params: TrainParams, steps_per_epoch: int):
    """Per-step learning-rate factor: ``constant`` 1; ``linear`` and ``cosine`` decay to 0 at the last step of
    ``train.epochs`` (early stopping may end sooner, at a higher rate)."""
    total = max(params.epochs * steps_per_epoch, 1)
    factors = {
        "constant": lambda step: 1.0,
        "linear": lambda step: max(0.0, 1.0 - step / total),
        "cosine": lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total)),
    }
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factors[params.lr_schedule])


def _autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
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
        with _autocast(device, mixed_precision):
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
    """Train in place; on return ``model`` holds the weights of the best validation epoch.

    Seed torch before building ``model`` too: its initial weights come from the global generator."""
    torch.manual_seed(seed)
    model.to(device)
    optimizer = make_optimizer(model, params)
    schedule = make_schedule(optimizer, params, math.ceil(len(train) / params.batch_size))
    use_amp = mixed_precision_enabled(params, device)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    loss_function = nn.CrossEntropyLoss()
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
            result.history = state["history"]
            result.best_epoch = state["best_epoch"]
            result.best_valid_accuracy = state["best_valid_accuracy"]
            start_epoch = state["epoch"] + 1
            result.resumed_from_epoch = state["epoch"]
            log.info("resumed from checkpoint %s after epoch %d", checkpoint_path, state["epoch"])
            if on_epoch is not None:  # a resumed run reports the epochs it inherited, so its curves are whole
                for row in result.history:
                    on_epoch(row)
    began = time.perf_counter()
    min_length = getattr(model, "min_length", 1)
    for epoch in range(start_epoch, params.epochs + 1):
        if stale_epochs >= params.patience:
            break
        epoch_began = time.perf_counter()
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        batches = iterate_batches(
            train,
            params.batch_size,
            shuffle=True,
            seed=seed,
            epoch=epoch,
            min_length=min_length,
            length_buckets=params.length_buckets,
        )
        total_batches = math.ceil(len(train) / params.batch_size)
        for _, ids, labels in progress(batches, total=total_batches, desc=f"epoch {epoch}", unit="batch"):
            ids, labels = ids.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with _autocast(device, use_amp):
                logits = model(ids)
                loss = loss_function(logits.float(), labels)
            scaler.scale(loss).backward()
            if params.grad_clip > 0:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), params.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            if hasattr(model, "apply_constraints"):
                model.apply_constraints()
            total_loss += float(loss.detach()) * len(labels)
            correct += int((logits.argmax(dim=1) == labels).sum())
            seen += len(labels)
        valid_loss, valid_accuracy = evaluate_loss_accuracy(model, valid, params.batch_size, device, use_amp)
        row = {
            "epoch": epoch,
            "train_loss": round(total_loss / max(seen, 1), 6),
            "train_accuracy": round(correct / max(seen, 1), 6),
            "valid_loss": round(valid_loss, 6),
            "valid_accuracy": round(valid_accuracy, 6),
            "seconds": round(time.perf_counter() - epoch_began, 3),
        }
        improved = valid_accuracy > result.best_valid_accuracy or result.best_epoch == 0
        if improved:
            result.best_epoch, result.best_valid_accuracy = epoch, valid_accuracy
            best_state = copy.deepcopy(model.state_dict())
            stale_epochs = 0
        else:
            stale_epochs += 1
        result.history.append(row)
        log.info(
            "epoch %d/%d  train_loss %.4f  train_acc %.4f  valid_loss %.4f  valid_acc %.4f  %.1fs%s",
            epoch,
            params.epochs,
            row["train_loss"],
            row["train_accuracy"],
            valid_loss,
            valid_accuracy,
            row["seconds"],
            "  *best" if improved else "",
        )
        if on_epoch is not None:
            on_epoch(row)
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
                    "best_valid_accuracy": result.best_valid_accuracy,
                    "stale_epochs": stale_epochs,
                    "history": result.history,
                },
            )
    result.stopped_early = stale_epochs >= params.patience and result.history[-1]["epoch"] < params.epochs
    model.load_state_dict(best_state)
    result.seconds = round(time.perf_counter() - began, 3)
    return result


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
