"""``make airflow``'s stack (scripts/airflow-local.sh: an mlflow server, then Airflow's api-server, scheduler,
dag-processor and triggerer on LocalExecutor) started from Python, for the tests and the executors benchmark:
in its own process group, so leaving the block stops every process the script started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def running_local_airflow(
    project: Path, home: Path, port: int, env: dict[str, str], seconds: float = 180
) -> Iterator[str]:
    """Yield the api-server's URL once the script says the UI is up; ``home`` is AIRFLOW_HOME, its log is
    ``<home>.log`` beside it."""
    log_path = home.parent / f"{home.name}.log"
    with open(log_path, "w") as log:
        stack = subprocess.Popen(
            ["scripts/airflow-local.sh"],
            cwd=project,
            env=env | {"AIRFLOW_HOME": str(home), "AIRFLOW_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + seconds
            while "Airflow UI" not in log_path.read_text():
                if stack.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"make airflow's stack did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(1)
            yield f"http://127.0.0.1:{port}"
        finally:
            os.killpg(stack.pid, signal.SIGTERM)
            try:
                stack.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(stack.pid, signal.SIGKILL)
