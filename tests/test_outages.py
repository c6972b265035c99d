"""A training rides out its tracking server and object store going away for a minute.

The real programs, stopped for real in mid-training and at the same time: ``mlflow server`` is terminated and
started again on the same port and database 60 s later; ``moto_server`` (the S3 endpoint of the checkpoint
mirror, which keeps its buckets in memory) is frozen with SIGSTOP for those 60 s and thawed, so its data
survives the outage. The epochs go on while the services are away, and everything reaches each once it is back.
One training for both outages: each is a minute of the suite's wall time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pipelines.stages.train import standalone_command
from tests.conftest import (
    ROOT,
    SMALL_PIPELINE,
    clone_project,
    free_port,
    merge,
    stop,
    tool_env,
    wait_healthy,
    write_params,
)

pytestmark = pytest.mark.slow
OUTAGE_SECONDS = 60
EPOCHS = 10


class Training:
    """A train stage process whose output lines are kept with the time each arrived."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str]):
        self.lines: list[tuple[float, str]] = []
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append((time.monotonic(), line.rstrip()))

    def wait_for_line(self, marker: str, seconds: float = 300) -> float:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if marker in line:
                    return at
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {marker!r} in the training's output:\n{self.output}")

    def finish(self, seconds: float = 900) -> int:
        code = self.process.wait(timeout=seconds)
        self.reader.join(timeout=10)
        return code

    @property
    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)


def _params(tmp_path: Path, tracking: bool) -> Path:
    update = {"train": {"epochs": EPOCHS, "patience": EPOCHS}, "tracking": {"enabled": tracking}}
    write_params(tmp_path, merge(SMALL_PIPELINE, update))
    return tmp_path / "params.yaml"


def _mlflow_server(home: Path, port: int) -> subprocess.Popen:
    command = [
        "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}", "--artifacts-destination", str(home / "artifacts"),
    ]  # fmt: skip
    log = open(home / "server.log", "a")  # noqa: SIM115 - closed with the process by the test
    process = subprocess.Popen(command, env=tool_env(), stdout=log, stderr=subprocess.STDOUT)
    wait_healthy(f"http://127.0.0.1:{port}/health", process, 120)
    return process


def _moto_server(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        ["moto_server", "-H", "127.0.0.1", "-p", str(port)], env=tool_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_healthy(f"http://127.0.0.1:{port}/moto-api/", process, 60)
    return process


def _outage_lines(output: str, what: str) -> list[str]:
    """The lines the background sender for ``what`` logged about its outage: its start, then its end."""
    return [
        line for line in output.splitlines()
        if what in line and ("the work goes on" in line or "reachable again" in line)
    ]  # fmt: skip


def test_a_training_survives_a_minute_without_its_mlflow_server_and_its_object_store(reproduced_project, tmp_path):
    """Both at once, as when the machine they share goes away: the training's MLflow run and its checkpoint
    mirror each report the outage first and its end last, and each gets everything once its service is back."""
    import boto3
    import mlflow

    project = clone_project(reproduced_project, tmp_path / "project")
    home, mlflow_port, s3_port = tmp_path / "mlflow", free_port(), free_port()
    home.mkdir()
    server, moto = _mlflow_server(home, mlflow_port), _moto_server(s3_port)
    uri, endpoint = f"http://127.0.0.1:{mlflow_port}", f"http://127.0.0.1:{s3_port}"
    credentials = {"AWS_ACCESS_KEY_ID": "textflow", "AWS_SECRET_ACCESS_KEY": "textflow-test"}
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **{
        name.lower(): value for name, value in credentials.items()
    })  # fmt: skip
    s3.create_bucket(Bucket="checkpoints")
    environment = tool_env(
        credentials
        | {
            "MLFLOW_TRACKING_URI": uri,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
            "TEXTFLOW_CHECKPOINT_URL": "s3://checkpoints/run/checkpoint.pt",
        }
    )
    out = tmp_path / "out"
    training = Training(standalone_command(ROOT, _params(tmp_path, tracking=True), out), project, environment)
    frozen = False
    try:
        training.wait_for_line(f"epoch 3/{EPOCHS}")
        # the freeze first: it is instant, while a server's stop waits for it to exit, epochs going on meanwhile
        os.kill(moto.pid, signal.SIGSTOP)  # frozen, not stopped: moto keeps its buckets in memory
        frozen = True
        stop(server)
        time.sleep(OUTAGE_SECONDS)
        os.kill(moto.pid, signal.SIGCONT)
        frozen = False
        back_at = time.monotonic()
        server = _mlflow_server(home, mlflow_port)
        assert training.finish() == 0, training.output
        last_epoch_at = training.wait_for_line(f"epoch {EPOCHS}/{EPOCHS}", seconds=1)
        assert last_epoch_at < back_at, "the epochs went on while MLflow and the object store were away"
        for what in ("MLflow run", "checkpoint mirror"):
            lines = _outage_lines(training.output, what)
            assert lines and "the work goes on" in lines[0] and "reachable again" in lines[-1], (what, training.output)

        client = mlflow.MlflowClient(uri)
        run_id = json.loads((out / "run.json").read_text())["run_id"]
        history = client.get_metric_history(run_id, "valid_accuracy")
        assert sorted(metric.step for metric in history) == list(range(1, EPOCHS + 1)), "every epoch reached MLflow"
        assert client.get_run(run_id).info.status == "FINISHED"
        stored = s3.get_object(Bucket="checkpoints", Key="run/checkpoint.pt")["Body"].read()
        assert stored == (out / "checkpoint.pt").read_bytes(), "the last checkpoint reached the store once it was back"
    finally:
        if frozen:
            os.kill(moto.pid, signal.SIGCONT)
        if training.process.poll() is None:
            training.process.kill()
        stop(server)
        stop(moto)
