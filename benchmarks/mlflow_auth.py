"""Seconds per authenticated request to the stack's MLflow server, with and without its credential cache.

    python -m benchmarks.mlflow_auth [--requests 30] [--record]

The server is the one ``make cluster`` and compose run (``python -m pipelines.orchestration.cluster
mlflow-server``: basic auth, users in a database), here over SQLite in a temporary directory. It is started twice
in this script: ``TEXTFLOW_MLFLOW_AUTH_CACHE_SECONDS=0`` (every request checks the password hash, MLflow's
default) as the baseline, then the default 60. Each time the same authenticated ``experiments/search`` is timed
``--requests`` times after one warm-up request; the median is reported. Alone on the machine.
``--record`` appends the table to ``benchmarks/results/notes.md``.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from pipelines.common.ports import free_port
from pipelines.common.processes import ServiceNotHealthy, stop, wait_healthy
from pipelines.orchestration.cluster import AUTH_CACHE_ENV

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "notes.md"
START_SECONDS = 180


def _wait_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    try:
        wait_healthy(f"{url}/health", process, START_SECONDS, poll_seconds=1)
    except ServiceNotHealthy as problem:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise SystemExit(f"the MLflow server {problem}:\n{tail}") from None


def request_seconds(cache_seconds: int, requests: int) -> list[float]:
    """Seconds of each of ``requests`` authenticated requests to a fresh server with that cache TTL."""
    password = secrets.token_urlsafe(18)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="textflow-mlflow-auth-") as scratch:
        env = os.environ | {
            "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{scratch}/mlflow.db",
            "MLFLOW_AUTH_DATABASE_URI": f"sqlite:///{scratch}/auth.db",
            "MLFLOW_AUTH_ADMIN_PASSWORD": password,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_urlsafe(24),
            "MLFLOW_ARTIFACTS_DESTINATION": f"{scratch}/artifacts",
            AUTH_CACHE_ENV: str(cache_seconds),
        }
        command = [sys.executable, "-m", "pipelines.orchestration.cluster", "mlflow-server", "--host", "127.0.0.1"]
        with open(Path(scratch) / "server.log", "w") as log:
            process = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=log, stderr=log)
            try:
                url = f"http://127.0.0.1:{port}"
                _wait_healthy(url, process, Path(log.name))
                credentials = base64.b64encode(f"admin:{password}".encode()).decode()
                search = urllib.request.Request(
                    f"{url}/api/2.0/mlflow/experiments/search?max_results=1",
                    headers={"Authorization": f"Basic {credentials}"},
                )
                seconds = []
                for _ in range(requests + 1):
                    began = time.perf_counter()
                    urllib.request.urlopen(search, timeout=30).close()
                    seconds.append(time.perf_counter() - began)
                return seconds[1:]
            finally:
                stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--record", action="store_true", help=f"append to {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args()
    checked = statistics.median(request_seconds(0, args.requests))
    cached = statistics.median(request_seconds(60, args.requests))
    lines = [
        f"### MLflow basic auth: seconds per request, {os.cpu_count()} cores ({time.strftime('%Y-%m-%d')})",
        "",
        f"`python -m benchmarks.mlflow_auth --requests {args.requests}`: the median of authenticated requests.",
        "",
        "| server | median s/request | vs every request checked |",
        "| --- | ---: | ---: |",
        f"| `{AUTH_CACHE_ENV}=0` (MLflow's default) | {checked:.3f} | 1.00x |",
        f"| default (60 s) | {cached:.3f} | {cached / checked:.3f}x |",
        "",
    ]
    print("\n".join(lines))
    if args.record:
        with open(RESULTS, "a", encoding="utf-8") as handle:
            handle.write("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
