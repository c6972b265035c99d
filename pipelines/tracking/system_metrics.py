"""The machine's load while a model trains, as the run's ``system/*`` metrics (the MLflow UI's "System metrics"
tab): CPU and memory of the host and of the training process, and, on CUDA, utilisation and memory of the
training's own GPU only.

Not MLflow's ``log_system_metrics``: its monitor reports every GPU of the host (on a shared multi-GPU worker,
other trainings' GPUs), logs from its own thread with blocking HTTP retries that a run's end waits for, and
stops for good on the first failed call. Here one thread samples with psutil and NVML (``nvidia-ml-py``, the
library MLflow's monitor uses) and hands each sample to the run's background sender, so an MLflow outage costs
what any epoch's logging costs: nothing while it lasts, delivery in order afterwards
(pipelines/common/background.py).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pipelines.common.errors import PipelineError

log = logging.getLogger(__name__)

INTERVAL_ENV = "TEXTFLOW_SYSTEM_METRICS_SECONDS"
DEFAULT_INTERVAL = 5.0
MEGABYTE = 1e6


def sampling_interval() -> float:
    """Seconds between samples: ``TEXTFLOW_SYSTEM_METRICS_SECONDS`` (0 turns sampling off), else 5."""
    raw = os.environ.get(INTERVAL_ENV, "")
    try:
        return float(raw) if raw else DEFAULT_INTERVAL
    except ValueError:
        raise PipelineError(f"{INTERVAL_ENV}={raw!r} is not a number of seconds (0 turns system metrics off)") from None


class GpuProbe:
    """NVML readings of one GPU, found by the UUID torch reports for the training's device (NVML numbers every
    GPU of the host and ignores ``CUDA_VISIBLE_DEVICES``, so an index would name another training's GPU)."""

    def __init__(self, device: Any):
        import pynvml
        import torch

        pynvml.nvmlInit()
        self._nvml = pynvml
        uuid = str(torch.cuda.get_device_properties(device).uuid)
        self._handle = pynvml.nvmlDeviceGetHandleByUUID(uuid if uuid.startswith("GPU-") else f"GPU-{uuid}")

    def sample(self) -> dict[str, float]:
        memory = self._nvml.nvmlDeviceGetMemoryInfo(self._handle)
        return {
            "gpu_0_utilization_percentage": float(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu),
            "gpu_0_memory_usage_megabytes": memory.used / MEGABYTE,
            "gpu_0_memory_usage_percentage": round(100 * memory.used / memory.total, 1),
        }

    def close(self) -> None:
        self._nvml.nvmlShutdown()


def host_sample(process: Any) -> dict[str, float]:
    import psutil

    memory = psutil.virtual_memory()
    return {
        "cpu_utilization_percentage": psutil.cpu_percent(interval=None),
        "system_memory_usage_megabytes": (memory.total - memory.available) / MEGABYTE,
        "system_memory_usage_percentage": memory.percent,
        "process_memory_rss_megabytes": process.memory_info().rss / MEGABYTE,
    }


@contextmanager
def system_metrics(run: Any, device: Any) -> Iterator[None]:
    """Sample every :func:`sampling_interval` seconds into ``run`` (a ``TrainingRun``; nothing when tracking is
    off) while the block runs, and once more at its end."""
    interval = sampling_interval()
    if run.run_id is None or interval <= 0:
        yield
        return
    import psutil

    process = psutil.Process()
    psutil.cpu_percent(interval=None)  # the first reading only starts psutil's clock
    gpu = None
    if getattr(device, "type", "") == "cuda":
        try:
            gpu = GpuProbe(device)
        except Exception as error:  # no NVML library, or a driver without it: CPU and memory still sampled
            log.warning("no GPU metrics for this run (NVML: %s)", error)
    stop = threading.Event()
    step = 0

    def sample() -> None:
        nonlocal step
        try:
            values = host_sample(process) | (gpu.sample() if gpu else {})
        except Exception as error:  # a reading that failed once (a GPU reset, a vanished process) is skipped
            log.warning("system metrics: a sample failed (%s)", error)
            return
        run.log_sample({f"system/{key}": value for key, value in values.items()}, step)
        step += 1

    def loop() -> None:
        while not stop.wait(interval):
            sample()

    thread = threading.Thread(target=loop, name="system-metrics", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval + 5)
        sample()
        if gpu:
            gpu.close()
