"""Waiting on a child service and stopping it with what it started: one helper for the cluster and the tests."""

import signal
import subprocess
import sys
import time

import pytest

from pipelines.common.ports import free_port
from pipelines.common.processes import ServiceNotHealthy, stop, wait_healthy


def test_wait_healthy_returns_once_the_server_answers():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/", server, 60)
        assert server.poll() is None
    finally:
        stop(server)


def test_wait_healthy_says_the_service_exited_with_its_code():
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(ServiceNotHealthy, match="exited with 3"):
        wait_healthy(f"http://127.0.0.1:{free_port()}/health", process, 60)


def test_wait_healthy_gives_up_after_its_bound():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(ServiceNotHealthy, match=r"not healthy at .* after 1 s"):
            wait_healthy(f"http://127.0.0.1:{free_port()}/health", process, 1)
    finally:
        stop(process)


# A service that starts a helper of its own and exits on SIGTERM without stopping it, as Airflow's scheduler does
# with its log server: the helper's pid is printed first.
LEAVES_A_HELPER = (
    "import subprocess, sys, time\n"
    "helper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)\n"
    "print(helper.pid, flush=True)\n"
    "time.sleep(120)\n"
)


@pytest.mark.parametrize("parent_ignores_sigterm", [False, True], ids=["exits on SIGTERM", "ignores SIGTERM"])
def test_stop_also_stops_what_the_service_started(parent_ignores_sigterm):
    import psutil

    code = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if parent_ignores_sigterm else ""
    process = subprocess.Popen([sys.executable, "-c", code + LEAVES_A_HELPER], stdout=subprocess.PIPE, text=True)
    helper = psutil.Process(int(process.stdout.readline()))
    try:
        stop(process, grace_seconds=2)
        assert process.returncode is not None
        assert not helper.is_running() or helper.status() == psutil.STATUS_ZOMBIE, "the helper outlived its service"
    finally:
        if helper.is_running():
            helper.kill()
        process.stdout.close()


def test_stop_gives_processes_signalled_together_one_grace_period_not_one_each():
    """Three services that ignore SIGTERM are killed when the one grace period ends: a cluster's teardown is bounded
    by its grace, whatever the number of services (waiting each in turn took a grace period per service)."""
    ignores = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(flush=True); time.sleep(120)"
    processes = [subprocess.Popen([sys.executable, "-c", ignores], stdout=subprocess.PIPE) for _ in range(3)]
    try:
        for process in processes:
            process.stdout.readline()
        started = time.monotonic()
        stop(*processes, grace_seconds=3)
        elapsed = time.monotonic() - started
        assert all(process.returncode == -signal.SIGKILL for process in processes)
        assert elapsed < 6, f"stop took {elapsed:.1f} s for a 3 s grace period"
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            process.stdout.close()
