"""Choosing where training runs: ``auto`` takes CUDA when present, else CPU."""

from __future__ import annotations

import os

import torch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but torch sees no CUDA device; use 'auto' or 'cpu' on this machine")
    return torch.device(name)


def configure_threads(num_threads: int) -> int:
    """Use ``num_threads`` CPU threads (0 = every core) and return the number set."""
    threads = num_threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    return threads
