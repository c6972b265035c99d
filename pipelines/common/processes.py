"""Child services: waiting until one answers, and stopping one without waiting on it for ever."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
import urllib.request

import psutil


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


def signal_tree(pid: int, signal_number: int) -> list[psutil.Process]:
    """Signal a process and all its descendants, whatever process group or session they moved to; the
    processes signalled (descendants first), for waiting on."""
    try:
        root = psutil.Process(pid)
        family = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return []
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.send_signal(signal_number)
    return family


def stop(*processes: subprocess.Popen, grace_seconds: float = 20) -> None:
    """SIGTERM to the processes and every process they started, all at once, then SIGKILL to whatever of them is
    left ``grace_seconds`` later (one deadline for all: they were signalled together). A service's own children are
    part of it: Airflow's scheduler leaves its log server and executor workers running when it is killed (or even
    when it exits on SIGTERM), and those hold ports, files and CPU after the test or cluster that started them is
    gone."""
    own = {process.pid for process in processes}
    started = [member for process in processes for member in signal_tree(process.pid, signal.SIGTERM)]
    descendants = [member for member in started if member.pid not in own]
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_tree(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    _, alive = psutil.wait_procs(descendants, timeout=max(0.0, deadline - time.monotonic()))
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(alive, timeout=10)
