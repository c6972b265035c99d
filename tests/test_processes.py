"""Waiting on a child service: one helper for the cluster, the tests and the benchmarks."""

import subprocess
import sys

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
