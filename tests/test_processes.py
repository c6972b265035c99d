"""Waiting on a child service (one helper for the cluster, the tests and the benchmarks) and the stack's MLflow
auth-cache setting."""

import subprocess
import sys

import pytest

from pipelines.common.ports import free_port
from pipelines.common.processes import ServiceNotHealthy, stop, wait_healthy
from pipelines.orchestration.cluster import AUTH_CACHE_ENV, auth_cache_seconds


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


@pytest.mark.parametrize(("value", "seconds"), [(None, 60), ("0", 0), ("300", 300)])
def test_auth_cache_seconds_defaults_to_60_and_follows_the_variable(monkeypatch, value, seconds):
    if value is None:
        monkeypatch.delenv(AUTH_CACHE_ENV, raising=False)
    else:
        monkeypatch.setenv(AUTH_CACHE_ENV, value)
    assert auth_cache_seconds() == seconds


@pytest.mark.parametrize("value", ["1m", "-5", "2.5"])
def test_auth_cache_seconds_refuses_what_is_not_a_whole_number(monkeypatch, value):
    monkeypatch.setenv(AUTH_CACHE_ENV, value)
    with pytest.raises(SystemExit, match=f"{AUTH_CACHE_ENV} must be a whole number of seconds.*{value!r}"):
        auth_cache_seconds()
