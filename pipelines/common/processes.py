"""Stopping a child process without waiting on it for ever: SIGTERM, then SIGKILL if it does not exit."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen, grace_seconds: float = 20) -> None:
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
