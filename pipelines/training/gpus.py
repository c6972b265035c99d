"""One training per GPU: which GPUs this machine has, and claiming one of them for the life of a training.

Airflow lets as many trainings run at once as there are training slots (the GPUs ``nvidia-smi`` lists), but
a slot is not a device: every training asking torch for ``cuda`` would land on GPU 0 while the others idle. So a
training claims a GPU before torch touches CUDA: it takes the first free lock file ``gpu-<uuid>.lock`` in a
directory shared by the machine's trainings (``TEXTFLOW_GPU_LOCKS``, default ``<tmp>/textflow-gpu-locks``),
holds it until the process ends (a killed training's lock goes with it), and sets ``CUDA_VISIBLE_DEVICES`` to
that GPU, so inside the process it is ``cuda:0``. The GPUs to choose from are ``CUDA_VISIBLE_DEVICES`` when
an orchestrator already set it (Kubernetes, Docker), else every GPU ``nvidia-smi -L`` lists. With all of them
taken a training waits, saying so, rather than share one.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)
LOCKS_ENV = "TEXTFLOW_GPU_LOCKS"
CONCURRENT_TRAININGS_ENV = "TEXTFLOW_CONCURRENT_TRAININGS"
"""How many trainings share this machine (the training pool's slots), set by the orchestrator; here, not in
device.py, so that DAG files read it without importing torch."""
VISIBLE_ENV = "CUDA_VISIBLE_DEVICES"
LISTING = re.compile(r"^GPU (\d+):.*?\(UUID: ([^)]+)\)")
_held: list[FileLock] = []


def listed_gpus() -> list[str]:
    """UUIDs of the GPUs ``nvidia-smi -L`` lists (the index when a line has none); empty without nvidia-smi."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    gpus = []
    for line in listing.splitlines():
        if match := LISTING.match(line):
            gpus.append(match.group(2))
        elif line.startswith("GPU "):
            gpus.append(line.split(":", 1)[0].removeprefix("GPU ").strip())
    return gpus


def candidate_gpus() -> list[str]:
    """The GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` when set (ids or UUIDs), else all listed."""
    visible = os.environ.get(VISIBLE_ENV)
    if visible is not None:
        return [item.strip() for item in visible.split(",") if item.strip() and item.strip() != "-1"]
    return listed_gpus()


def lock_directory() -> Path:
    return Path(os.environ.get(LOCKS_ENV) or Path(tempfile.gettempdir()) / "textflow-gpu-locks")


def claim_gpu(wait: float = 6 * 3600, poll: float = 2.0) -> str | None:
    """Claim a free GPU for this process and make it the only one CUDA sees; its id, or None without GPUs.

    Call before anything initialises CUDA. A process claims at most once; a second call returns its GPU."""
    if _held:
        return os.environ.get(VISIBLE_ENV)
    gpus = candidate_gpus()
    if not gpus:
        return None
    directory = lock_directory()
    directory.mkdir(parents=True, exist_ok=True)
    deadline, waiting = time.monotonic() + wait, False
    while True:
        for gpu in gpus:
            lock = FileLock(directory / f"gpu-{_safe(gpu)}.lock", is_singleton=False)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            _held.append(lock)
            os.environ[VISIBLE_ENV] = gpu
            log.info("claimed GPU %s, one of %d here; CUDA sees only it", gpu, len(gpus))
            return gpu
        if time.monotonic() > deadline:
            raise TimeoutError(f"every GPU of this machine ({', '.join(gpus)}) stayed claimed for {wait:.0f}s")
        if not waiting:
            log.info("all %d GPUs are claimed by other trainings; waiting for one (locks in %s)", len(gpus), directory)
            waiting = True
        time.sleep(poll)


def _safe(gpu: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", gpu)
