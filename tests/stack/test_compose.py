"""The compose stack for real: the image built from docker/Dockerfile, docker/compose.yaml brought up by the
real Compose binary, a DAG triggered through its REST API, and nothing left behind.

No Docker engine runs on these machines; Debian's podman does, driven through its Docker-compatible socket
(``podman system service``). No image registry is reachable, so the registry images are stood in for by images
built here from a Debian base (tests/stack/: python, PostgreSQL, Redis with the official images' contracts, and
moto's server as the S3 endpoint), and the host's CPU-only state by docker/compose.cpu.yaml. Podman runs no
health checks without systemd, so a thread here runs them every 2 s, as Docker's daemon would.

    make test-stack        # about 20 minutes the first time (the image build), later about 10

It is not part of ``make test``: see README ("Run the full stack"). Each step's command, its duration and where
each task ran are written to test-artifacts/stack-transcript.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipelines.orchestration.airflow_rest import dag_api_url, finished_run, request, task_log, trigger, unpause
from pipelines.orchestration.dags import PIPELINE_DAG_ID, SWEEP_DAG_ID
from tests.conftest import ROOT, free_port
from tests.stack.harness import STACK, TRANSCRIPT, podman, step

pytestmark = pytest.mark.stack
PROJECT = "textflow-stack"
COMPOSE_FILES = [
    ROOT / "docker" / "compose.yaml",
    ROOT / "docker" / "compose.cpu.yaml",
    STACK / "compose.stand-ins.yaml",
]
SMALL = {"dataset.demo.train_size": 600, "dataset.demo.test_size": 200, "train.epochs": 2}


class HealthChecks(threading.Thread):
    """Runs the stack's health checks every 2 s, as Docker's daemon does and podman does only under systemd."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(2):
            listed = podman("ps", "--filter", f"label=com.docker.compose.project={PROJECT}", "--format", "{{.Names}}",
                            check=False)  # fmt: skip
            for name in listed.stdout.split():
                podman("healthcheck", "run", name, timeout=60, check=False)


def secrets_file(path: Path) -> dict[str, str]:
    import secrets

    from cryptography.fernet import Fernet

    values = {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(18),
        "MLFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "MLFLOW_FLASK_SECRET_KEY": secrets.token_urlsafe(24),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(24),
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(24),
        "AIRFLOW_FERNET_KEY": Fernet.generate_key().decode(),
        "S3_ACCESS_KEY": "textflow",
        "S3_SECRET_KEY": secrets.token_urlsafe(18),
        "AIRFLOW_PORT": str(free_port()),
        "MLFLOW_PORT": str(free_port()),
        "TEXTFLOW_IMAGE": "localhost/textflow:cpu",
        "POSTGRES_IMAGE": "localhost/textflow-postgres:15",
        "REDIS_IMAGE": "localhost/textflow-redis:7",
        "S3_IMAGE": "localhost/textflow-moto:5",
    }
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    path.chmod(0o600)
    return values


def compose(docker_host: str, env_file: Path, *arguments: str) -> list[str]:
    files = [argument for path in COMPOSE_FILES for argument in ("-f", str(path))]
    return ["docker-compose", "-p", PROJECT, *files, "--env-file", str(env_file), *arguments]


def compose_env(docker_host: str) -> dict[str, str]:
    return os.environ | {"DOCKER_HOST": docker_host}


def all_healthy(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        listed = podman("ps", "-a", "--filter", f"label=com.docker.compose.project={PROJECT}", "--format", "json")
        containers = json.loads(listed.stdout or "[]")
        states = {item["Names"][0]: (item["State"], item.get("Status", "")) for item in containers}
        waiting = [name for name, (state, status) in states.items()
                   if state == "running" and "healthy" not in status and "starting" in status]  # fmt: skip
        failed = [name for name, (state, _) in states.items() if state == "exited" and "init" not in name
                  and "create-buckets" not in name]  # fmt: skip
        assert not failed, f"exited: {failed}\n" + "\n".join(
            podman("logs", name, check=False).stderr[-2000:] for name in failed
        )
        if states and not waiting and all(state in ("running", "exited") for state, _ in states.values()):
            return
        assert time.monotonic() < deadline, f"not healthy after {seconds:.0f}s: {states}"
        time.sleep(3)


@pytest.fixture(scope="module")
def stack(images, docker_host, tmp_path_factory):
    home = tmp_path_factory.mktemp("stack")
    env_file = home / "stack.env"
    values = secrets_file(env_file)
    checks = HealthChecks()
    checks.start()
    began = time.monotonic()
    try:
        step("compose up", compose(docker_host, env_file, "up", "-d", "--no-build"), 900, compose_env(docker_host))
        all_healthy(900)
        TRANSCRIPT.append(f"| every service healthy | | {time.monotonic() - began:.0f} s | 0 |")
        base = f"http://127.0.0.1:{values['AIRFLOW_PORT']}"
        generated = podman("exec", f"{PROJECT}-airflow-apiserver-1", "cat",
                           "/opt/airflow/simple_auth_manager_passwords.json.generated")  # fmt: skip
        password = json.loads(generated.stdout)["admin"]
        token = request(f"{base}/auth/token", None, "POST", {"username": "admin", "password": password})["access_token"]
        yield {"airflow": base, "mlflow": f"http://127.0.0.1:{values['MLFLOW_PORT']}", "token": token, **values}
    finally:
        step(
            "compose down -v", compose(docker_host, env_file, "down", "-v"), 600, compose_env(docker_host), check=False
        )
        checks.stopped.set()
    label = f"label=com.docker.compose.project={PROJECT}"
    leftovers = {
        "containers": podman("ps", "-a", "--filter", label, "--format", "{{.Names}}").stdout.split(),
        "volumes": podman("volume", "ls", "--filter", label, "--format", "{{.Name}}").stdout.split(),
        "networks": podman("network", "ls", "--filter", label, "--format", "{{.Name}}").stdout.split(),
    }
    assert not any(leftovers.values()), f"compose down -v left {leftovers}"


def failed_logs(dag_url: str, run_id: str, token: str, states: dict[str, str]) -> str:
    """The end of each failed task's log, for the assertion message (the logs go with `down -v`)."""
    failed = [task for task, state in states.items() if state == "failed"]
    return "\n".join(f"--- {task}:\n{task_log(dag_url, run_id, task, token)[-4000:]}" for task in failed)


def placements(dag_url: str, run_id: str, token: str) -> dict[str, set[tuple[str, str]]]:
    """{task id: {(worker, queue), ...}} (a mapped task has one entry per mapped instance)."""
    tasks = request(f"{dag_url}/dagRuns/{run_id}/taskInstances", token)["task_instances"]
    found: dict[str, set[tuple[str, str]]] = {}
    for task in tasks:
        found.setdefault(task["task_id"], set()).add((task["hostname"], task["queue"]))
    shown = {task: sorted(places) for task, places in found.items()}
    TRANSCRIPT.append(f"| where run {run_id}'s tasks ran | {json.dumps(shown)} | | |")
    return found


def test_a_rest_triggered_run_trains_on_the_gpu_worker_and_registers_a_champion(stack):
    dag_url = dag_api_url(stack["airflow"], PIPELINE_DAG_ID)
    unpause(dag_url, stack["token"])
    began = time.monotonic()
    run_id = trigger(dag_url, stack["token"], SMALL)
    state, states = finished_run(dag_url, run_id, stack["token"], time.monotonic() + 1800)
    TRANSCRIPT.append(
        f"| textflow_pipeline run `{json.dumps(SMALL)}` | REST v2 | {time.monotonic() - began:.0f} s | {state} |"
    )
    assert state == "success", failed_logs(dag_url, run_id, stack["token"], states)
    where = placements(dag_url, run_id, stack["token"])
    assert where.pop("train") == {("worker-gpu", "gpu")}
    assert set().union(*where.values()) == {("worker-default", "default")}, where

    import base64

    credentials = base64.b64encode(f"admin:{stack['MLFLOW_ADMIN_PASSWORD']}".encode()).decode()
    alias = f"{stack['mlflow']}/api/2.0/mlflow/registered-models/alias?name=textflow-demo&alias=champion"
    with urllib.request.urlopen(
        urllib.request.Request(alias, headers={"Authorization": f"Basic {credentials}"}), timeout=30
    ) as answer:
        assert json.loads(answer.read())["model_version"]["version"] == "1"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(alias, timeout=30)
    assert refused.value.code == 401, "MLflow refuses an anonymous request"


def test_the_workers_share_no_directory_they_write(stack):
    mounts = {}
    for worker in ("worker-default", "worker-gpu"):
        inspected = json.loads(podman("inspect", f"{PROJECT}-{worker}-1").stdout)[0]
        mounts[worker] = {mount.get("Name") or mount["Source"] for mount in inspected["Mounts"] if mount.get("RW")}
    shared = mounts["worker-default"] & mounts["worker-gpu"]
    assert not shared, f"both workers write {shared}"


def test_task_code_on_a_worker_sees_the_images_files_and_git_history_not_the_checkout(images, stack):
    """The checkout holds docker/.env (every secret of the stack): only its .git may reach a worker."""
    image_files = set(podman("run", "--rm", "--entrypoint", "ls", images, "-A", "/opt/textflow").stdout.split())
    for worker in ("worker-default", "worker-gpu"):
        seen = set(podman("exec", f"{PROJECT}-{worker}-1", "ls", "-A", "/opt/textflow").stdout.split())
        assert seen == image_files | {".git"}, f"{worker} sees {sorted(seen - image_files)} from the checkout"
        head = podman("exec", f"{PROJECT}-{worker}-1", "git", "-C", "/opt/textflow", "rev-parse", "HEAD")
        assert head.stdout.strip() == subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                                     text=True).stdout.strip()  # fmt: skip


def test_a_sweep_fans_out_on_the_stack_and_registers_its_best(stack):
    dag_url = dag_api_url(stack["airflow"], SWEEP_DAG_ID)
    unpause(dag_url, stack["token"])
    grid = {"model.type": ["textcnn", "nb_ngrams"], "train.seed": [1, 2], "train.epochs": [1]}
    began = time.monotonic()
    run_id = trigger(dag_url, stack["token"], {"grid": grid})
    state, states = finished_run(dag_url, run_id, stack["token"], time.monotonic() + 3600)
    TRANSCRIPT.append(
        f"| textflow_sweep run, grid `{json.dumps(grid)}` | REST v2 | {time.monotonic() - began:.0f} s | {state} |"
    )
    assert state == "success", failed_logs(dag_url, run_id, stack["token"], states)
    where = placements(dag_url, run_id, stack["token"])
    assert where["train_combination"] == {("worker-gpu", "gpu")}, "every combination trained on the gpu worker"
    assert len(request(f"{dag_url}/dagRuns/{run_id}/taskInstances", stack["token"])["task_instances"]) >= 4 + 4


def test_the_built_image_holds_no_secret_data_or_history(images):
    """R2 on the image itself, not only on the build context: what COPY put under the project root."""
    listed = podman("run", "--rm", "--entrypoint", "find", images, "/opt/textflow", "-maxdepth", "3", timeout=300)
    files = {line.removeprefix("/opt/textflow/") for line in listed.stdout.split()}
    assert "pipelines/stages/train.py" in files, "the listing is of the project"
    forbidden = [
        name for name in files
        if name in ("docker/.env", ".git", ".cache", "data", ".dvc/cache", "mlruns", ".venv")
        or name.startswith(("data/", ".git/", ".cache/", "mlruns/", ".venv/"))
    ]  # fmt: skip
    assert not forbidden, f"the image holds {forbidden}"
