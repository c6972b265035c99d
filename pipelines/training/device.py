"""Where training runs and with how many CPU threads.

``auto`` takes CUDA when present, else CPU. Threads: torch's default (one per core of the whole machine)
collapses when several CPU-heavy processes share the cores: two TREC TextCNN trainings at once on 2 cores ran
85 s per epoch each against 2 s alone, while one thread each gave 3.1-3.6 s. So ``train.num_threads: 0`` means
"my share": the cores this process may really use (its CPU affinity and its cgroup's CPU quota, not
``os.cpu_count()``) divided by the trainings that share the machine, which the orchestrator says in
``TEXTFLOW_CONCURRENT_TRAININGS`` (the training pool's slots; 1 when unset).
"""

from __future__ import annotations

import logging
import os

import torch

from pipelines.common.errors import PipelineError
from pipelines.common.parallel import usable_cores
from pipelines.config import TrainParams
from pipelines.training.gpus import CONCURRENT_TRAININGS_ENV

log = logging.getLogger(__name__)


class DeviceError(PipelineError, RuntimeError):
    """The configured device cannot be used here."""


def resolve_device(name: str) -> torch.device:
    """The device for ``train.device``; on CUDA, cuDNN picks deterministic algorithms and no autotuning (its
    benchmark mode may choose another convolution algorithm on every run)."""
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("train.device is 'cuda' but torch sees no CUDA device; use 'auto' or 'cpu' on this machine")
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return device


def mixed_precision_enabled(params: TrainParams, device: torch.device) -> bool:
    return params.mixed_precision and device.type == "cuda"


def concurrent_trainings() -> int:
    value = os.environ.get(CONCURRENT_TRAININGS_ENV, "1")
    try:
        return max(int(value), 1)
    except ValueError:
        raise ValueError(f"{CONCURRENT_TRAININGS_ENV} must be a whole number, got {value!r}") from None


def thread_share(num_threads: int, cores: int | None = None, trainings: int | None = None) -> int:
    """``num_threads`` when set, else this training's share of the usable cores (at least 1)."""
    if num_threads:
        return num_threads
    cores = usable_cores() if cores is None else cores
    trainings = concurrent_trainings() if trainings is None else trainings
    return max(cores // trainings, 1)


def configure_threads(num_threads: int) -> int:
    """Set torch's intra-op threads to :func:`thread_share` and return the number set."""
    threads = thread_share(num_threads)
    torch.set_num_threads(threads)
    return threads
