"""Splitting a large input across processes: how many cores this process may use, and an ordered map over chunks.

Workers are spawned, not forked: the stages run under DVC and Airflow task runners that hold threads, locks and
open connections, which a fork would copy mid-state. A spawned worker pays its imports (about a second here), so
each stage goes parallel only above an input size measured for it, and says in its log how many processes it
used, one line per call.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """Cores this process may run on: its affinity mask, capped by a cgroup v2 CPU quota if one is set."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(cores, 1)


def process_count(items: int, requested: int, threshold: int) -> int:
    """1 below ``threshold`` items (spawning would cost more than it saves), else ``requested`` processes
    (0: one per usable core)."""
    if items < threshold:
        return 1
    return max(requested or usable_cores(), 1)


def chunked(items: Sequence[Item], size: int) -> list[Sequence[Item]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def map_chunks(
    function: Callable[[Sequence[Item]], Result],
    chunks: Sequence[Sequence[Item]],
    processes: int,
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
    log: logging.Logger,
    doing: str,
) -> list[Result]:
    """``[function(chunk) for chunk in chunks]``, in order, in ``processes`` spawned workers (in this process
    when 1), each set up once by ``initializer(*initargs)``; logs ``doing`` ("cleaning 300000 texts") and on
    how many processes."""
    log.info("%s on %d process%s", doing, processes, "" if processes == 1 else "es")
    if processes <= 1:
        initializer(*initargs)
        return [function(chunk) for chunk in chunks]
    with multiprocessing.get_context("spawn").Pool(processes, initializer=initializer, initargs=initargs) as pool:
        return list(pool.imap(function, chunks))
