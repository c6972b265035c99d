"""Training and scoring a language model on a token stream: the objective the training loop runs
(:class:`LanguageModelObjective`) and perplexity, ``exp`` of the mean negative log-likelihood per token."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from pipelines.common.progress import progress
from pipelines.training.loop import Trainer, autocast
from pipelines.training.streams import batch_count, random_batches, sequential_batches

EVAL_BATCH_SIZE = 10
MAX_LOSS_FOR_EXP = 50.0  # exp(50) is already far past any vocabulary; beyond it a perplexity is just "diverged"


def perplexity(loss: float) -> float:
    return math.exp(min(loss, MAX_LOSS_FOR_EXP))


@torch.no_grad()
def stream_loss(
    model: nn.Module,
    stream: np.ndarray,
    device: torch.device,
    *,
    bptt: int,
    batch_size: int = EVAL_BATCH_SIZE,
    mixed_precision: bool = False,
) -> float:
    """Mean negative log-likelihood per predicted token of ``stream``, read in order with the state carried
    (the tail that does not fill ``batch_size`` rows is left out, as in pytorch/examples)."""
    model.eval()
    batch_size = max(1, min(batch_size, len(stream) // 2))
    total, tokens, state = 0.0, 0, None
    for inputs, targets in sequential_batches(stream, batch_size, bptt):
        with autocast(device, mixed_precision):
            logits, state = model(inputs.to(device), state)
        total += float(
            nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.to(device).flatten(), reduction="sum")
        )
        tokens += targets.numel()
    return total / max(tokens, 1)


class LanguageModelObjective:
    """Next-token cross-entropy over the training stream; selected on validation perplexity (lower wins).
    ``on_epoch_end`` (sampling from fixed prefixes, say) runs after every validation."""

    metric = "perplexity"
    higher_is_better = False
    timing_keys = ("tokens_per_second",)

    def __init__(
        self,
        train: np.ndarray,
        valid: np.ndarray,
        *,
        batch_size: int,
        bptt: int,
        sampling: str,
        seed: int,
        device: torch.device,
        mixed_precision: bool,
        on_epoch_end: Callable[[nn.Module, int], None] | None = None,
    ):
        self.train, self.valid = train, valid
        self.batch_size, self.bptt, self.sampling, self.seed = batch_size, bptt, sampling, seed
        self.device, self.mixed_precision, self.on_epoch_end = device, mixed_precision, on_epoch_end
        self.steps_per_epoch = batch_count(train, batch_size, bptt)
        self.epoch = 0

    def batches(self, epoch: int):
        if self.sampling == "random":
            return random_batches(self.train, self.batch_size, self.bptt, seed=self.seed, epoch=epoch)
        return sequential_batches(self.train, self.batch_size, self.bptt)

    def train_epoch(self, model: nn.Module, epoch: int, trainer: Trainer) -> dict[str, float]:
        self.epoch = epoch
        stateful = self.sampling == "sequential"
        total, tokens, state = 0.0, 0, None
        began = time.perf_counter()
        for inputs, targets in progress(
            self.batches(epoch), total=self.steps_per_epoch, desc=f"epoch {epoch}", unit="batch"
        ):
            inputs, targets = inputs.to(self.device, non_blocking=True), targets.to(self.device, non_blocking=True)
            with trainer.autocast():
                logits, state = model(inputs, detach_or_reset(state, stateful))
                loss = nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
            trainer.step(loss)
            total += float(loss.detach()) * targets.numel()
            tokens += targets.numel()
        loss = total / max(tokens, 1)
        seconds = max(time.perf_counter() - began, 1e-9)
        return {"train_loss": loss, "train_perplexity": perplexity(loss), "tokens_per_second": tokens / seconds}

    def validate(self, model: nn.Module) -> dict[str, float]:
        loss = stream_loss(model, self.valid, self.device, bptt=self.bptt, mixed_precision=self.mixed_precision)
        if self.on_epoch_end is not None:
            self.on_epoch_end(model, self.epoch)
        return {"valid_loss": loss, "valid_perplexity": perplexity(loss)}


def detach_or_reset(state: object, stateful: bool) -> object:
    return detach_state(state) if stateful else None


def detach_state(state: object) -> object:
    """The state with its history cut: truncated back-propagation through time (carried values, no graph)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(part.detach() for part in state)
    return state.detach()
