"""Child services: waiting until one answers, and stopping one without waiting on it for ever."""

from __future__ import annotations

import subprocess
import time
import urllib.request


class ServiceNotHealthy(RuntimeError):
    """The service exited, or did not answer its health URL in time; the message says which."""


def wait_healthy(url: str, process: subprocess.Popen, seconds: float, poll_seconds: float = 0.5) -> None:
    """Poll ``url`` until it answers with a success, the process exits, or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceNotHealthy(f"exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=3):
                return
        except OSError:
            time.sleep(poll_seconds)
    raise ServiceNotHealthy(f"not healthy at {url} after {seconds:.0f} s")


def stop(process: subprocess.Popen, grace_seconds: float = 20) -> None:
    """SIGTERM, then SIGKILL if it does not exit within ``grace_seconds``."""
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
