"""The distributed topology for real (`make cluster`'s services, no mocks): PostgreSQL, Redis, an S3 endpoint,
an authenticated MLflow server, Airflow on CeleryExecutor with a `default` and a `gpu` worker that share no
scratch directory. A REST-triggered run must train on the gpu worker, hand every output on through the DVC
remote, log and register through MLflow with credentials from the environment, and survive losing its worker."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipelines.common.project import ROOT_ENV
from pipelines.orchestration.airflow_rest import (
    dag_api_url,
    finished_run,
    login,
    request,
    task_log,
    trigger,
    unpause,
)
from pipelines.orchestration.cluster import postgres_program, running_cluster
from pipelines.orchestration.dags import PIPELINE_DAG_ID, SAVE_EXPERIMENT_TASK
from pipelines.orchestration.workspace import workspace_name
from pipelines.tracking.approval import APPLY_TASK_ID, APPROVAL_TASK_ID
from tests.conftest import STAGES, copy_project, run, tool_env

pytestmark = pytest.mark.slow

SMALL = {
    "dataset": {"demo": {"train_size": 600, "test_size": 200}},
    "embed": {"dim": 16, "epochs": 1},
    "model": {"embedding_dim": 16, "textcnn": {"num_filters": 8}},
    "train": {"epochs": 2},
    "tracking": {"data_docs": False},  # as SMALL_PIPELINE's: no test here looks at the site
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("project"), SMALL)
    # A killed worker's task is retried 30 s after its last heartbeat (the stack's default, 60) and 5 s after
    # that (30): the kill test waits for both, and on a busy machine 6 missed heartbeats are still not a loss.
    # The dag-processor re-parses the unchanged DAG files every 10 minutes, not 30 s (7% of a core).
    settings = {
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
        "TEXTFLOW_RETRY_DELAY_SECONDS": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
    }
    with running_cluster(project, tmp_path_factory.mktemp("cluster"), settings) as started:
        started.token = login(
            started.airflow_url, started.home / "airflow" / "simple_auth_manager_passwords.json.generated"
        )
        started.dag_url = dag_api_url(started.airflow_url, PIPELINE_DAG_ID)
        unpause(started.dag_url, started.token)
        yield started


def _task_instances(cluster, run_id: str) -> dict[str, dict]:
    url = f"{cluster.dag_url}/dagRuns/{run_id}/taskInstances"
    return {task["task_id"]: task for task in request(url, cluster.token)["task_instances"]}


def _workspace(scratch: Path, run_id: str) -> Path:
    found = scratch / workspace_name(run_id)
    assert (found / ".git").exists(), f"no workspace of {run_id} in {scratch}"
    return found


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_rest_triggered_run_trains_on_the_gpu_worker_and_hands_outputs_on_through_the_remote(cluster):
    run_id = trigger(cluster.dag_url, cluster.token, {})
    state, states = finished_run(cluster.dag_url, run_id, cluster.token, time.monotonic() + 900)
    assert state == "success", states
    cluster.first_run = run_id
    tasks = _task_instances(cluster, run_id)
    assert set(tasks) == {"prepare_workspace", *STAGES, APPROVAL_TASK_ID, APPLY_TASK_ID, SAVE_EXPERIMENT_TASK}
    unrun = {task_id: task["state"] for task_id, task in tasks.items() if not task["hostname"]}
    assert unrun == {APPLY_TASK_ID: "skipped"}, "nothing proposed: the scheduler skips applying an answer"
    placement = {task_id: (task["hostname"], task["queue"]) for task_id, task in tasks.items() if task_id not in unrun}
    assert placement.pop("train") == ("gpu-worker", "gpu")
    assert set(placement.values()) == {("default-worker", "default")}, placement

    gpu_space = _workspace(cluster.home / "worker-gpu", run_id)
    default_space = _workspace(cluster.home / "worker-default", run_id)
    assert not (gpu_space / "reports" / "metrics.json").exists(), "evaluate ran on the default worker only"
    # evaluate on the default worker scored the very model the gpu worker trained: it came through the remote
    assert _sha256(default_space / "models" / "model.pt") == _sha256(gpu_space / "models" / "model.pt")
    assert (default_space / "reports" / "metrics.json").exists()


def test_mlflow_refuses_anonymous_requests_and_the_run_logged_with_credentials_from_the_environment(cluster):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{cluster.mlflow_url}/api/2.0/mlflow/experiments/search?max_results=5", timeout=10)
    assert refused.value.code == 401

    import mlflow

    credentials = cluster.client_env()
    previous = {name: os.environ.get(name) for name in credentials}
    os.environ.update(credentials)
    try:
        client = mlflow.MlflowClient(cluster.mlflow_url)
        champion = client.get_model_version_by_alias("textflow-demo", "champion")
        run = client.get_run(champion.run_id)
        artifacts = [item.path for item in client.list_artifacts(run.info.run_id)]
    finally:
        for name, value in previous.items():
            os.environ.pop(name) if value is None else os.environ.__setitem__(name, value)
    assert run.data.params["train.epochs"] == "2" and "test_accuracy" in run.data.metrics
    assert artifacts, "the run's artifacts went through the server to S3"
    contexts = {
        {tag.key: tag.value for tag in item.tags}["mlflow.data.context"]: item for item in run.inputs.dataset_inputs
    }
    sources = {context: json.loads(contexts[context].dataset.source)["uri"] for context in ("validation", "test")}
    assert sources["validation"].startswith("s3://") and "/files/md5/" in sources["validation"], sources
    assert champion.description.startswith("# textflow-demo v"), "the version carries its model card"

    # the server remembers a verified password (auth_cache_ttl_seconds): admin's was just accepted, a wrong one
    # for the same user still is not
    wrong = base64.b64encode(b"admin:" + credentials["MLFLOW_TRACKING_PASSWORD"].encode()[::-1]).decode()
    search = urllib.request.Request(
        f"{cluster.mlflow_url}/api/2.0/mlflow/experiments/search?max_results=5",
        headers={"Authorization": f"Basic {wrong}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(search, timeout=10)
    assert refused.value.code == 401


def test_no_secret_reaches_a_task_log_or_a_tracked_file(cluster):
    secret_values = [
        cluster.secrets[name]
        for name in ("mlflow_admin_password", "s3_secret_key", "jwt_secret", "postgres_password", "fernet_key")
    ]
    logs = [path for path in (cluster.home / "airflow" / "logs").rglob("*") if path.is_file()]
    assert logs
    for path in logs:
        text = path.read_text(errors="replace")
        assert not any(value in text for value in secret_values), path
    for repository in [cluster.project, *(cluster.home / f"worker-{queue}" for queue in ("default", "gpu"))]:
        for space in [repository] if repository == cluster.project else repository.iterdir():
            if not (space / ".git").exists():
                continue
            tracked = subprocess.run(["git", "ls-files", "-z"], cwd=space, capture_output=True, text=True).stdout
            for name in filter(None, tracked.split("\0")):
                if (space / name).is_file():
                    text = (space / name).read_text(errors="replace")
                    assert not any(value in text for value in secret_values), space / name


def test_workers_hold_no_metadata_or_signing_secret_and_postgres_wants_a_password(cluster):
    """Task code runs on the workers: they must not hold what would let it take over Airflow or its database.
    (Their environment as the cluster started them: Celery's process titles overwrite /proc/<pid>/environ.)"""
    for queue in ("default", "gpu"):
        environment = "\0".join(f"{key}={value}" for key, value in cluster.environments[f"worker-{queue}"].items())
        leaked = [
            name for name in ("postgres_password", "jwt_secret", "fernet_key") if cluster.secrets[name] in environment
        ]
        assert not leaked, f"the {queue} worker holds {leaked}"
        assert cluster.secrets["s3_secret_key"] in environment, "it does hold what its tasks need"
    anonymous = subprocess.run(
        [postgres_program("psql"), "-h", "127.0.0.1", "-p", str(cluster.ports["postgres"]), "-U", "textflow", "-d", "airflow", "-c", "select 1"],
        capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"], "PGCONNECT_TIMEOUT": "5"},
    )  # fmt: skip
    assert anonymous.returncode != 0 and "password" in anonymous.stderr, anonymous.stderr


def test_the_mlflow_server_starts_no_job_consumers(cluster):
    """MLflow 3's server starts a pool of job consumers by default (each a Python process with mlflow imported,
    a quarter of a GB apiece), for server jobs textflow never submits: the stack's server runs without them."""
    import psutil

    server = psutil.Process(dict(cluster.processes)["mlflow"].pid)
    commands = [" ".join(process.cmdline()) for process in [server, *server.children(recursive=True)]]
    assert any("mlflow" in command for command in commands), commands
    assert not [command for command in commands if "huey" in command], commands


def test_a_gpu_worker_killed_mid_training_is_retried_elsewhere_and_resumes_from_object_storage(cluster, tmp_path):
    # A BiGRU on the module's 600 texts takes 1.5 s an epoch here alone (one thread), 3-8 s beside another test:
    # after epoch 3 of 12 the kill has at least 13 s of training left to land in, and the upstream stages come
    # from the first run's cache. The deadline covers the whole run on a loaded machine: the stages before
    # train, the heartbeat timeout and retry delay (30 s and 5 s here), the retry and the stages after it (896 s in
    # a clean-clone CI with the Airflow module beside it).
    conf = {"model.type": "bigru", "train.epochs": 12, "train.patience": 12}
    run_id = trigger(cluster.dag_url, cluster.token, conf)
    deadline = time.monotonic() + 1800
    while "epoch 3/12" not in (log := _train_log(cluster, run_id, 1)):
        assert time.monotonic() < deadline, log[-3000:]
        time.sleep(0.5)
    cluster.kill_worker("gpu")  # SIGKILL, the training process included
    cluster.restart_worker("gpu", tmp_path / "another-machine")  # an empty scratch: no local checkpoint

    state, states = finished_run(cluster.dag_url, run_id, cluster.token, deadline)
    assert state == "success", states
    train = _task_instances(cluster, run_id)["train"]
    assert train["try_number"] >= 2 and train["hostname"] == "gpu-worker"
    retry = _train_log(cluster, run_id, train["try_number"])
    assert "Stage 'train' is cached" not in retry, "the killed try must not have finished"
    assert "checkpoint restored from object storage" in retry, retry[-3000:]
    assert re.search(r"resumed from checkpoint .* after epoch ([1-9]|1[01])\b", retry), retry[-3000:]
    _workspace(tmp_path / "another-machine", run_id)  # the retry built its workspace in the new scratch directory


def test_a_container_task_rebuilds_the_workspace_from_the_run_spec_alone(cluster, tmp_path):
    """What a Kubernetes pod or Docker container runs (`run_task`), with nothing but the spec Airflow passed
    between the tasks and the environment: an empty scratch directory ends with the run's own results."""
    xcom = f"{cluster.dag_url}/dagRuns/{cluster.first_run}/taskInstances/prepare_workspace/xcomEntries/return_value"
    spec = request(xcom, cluster.token)["value"]
    spec = json.loads(spec) if isinstance(spec, str) else spec
    assert set(spec) == {"run_id", "commit", "overrides", "force"} and spec["force"] is False
    env = tool_env(cluster.client_env() | {"TEXTFLOW_RUNS_DIR": str(tmp_path / "pod"), ROOT_ENV: str(tmp_path)})
    command = [sys.executable, "-m", "pipelines.orchestration.run_task", "evaluate", "--spec", json.dumps(spec)]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Stage 'train' is cached" in output and "Running stage 'train'" not in output
    pod = _workspace(tmp_path / "pod", cluster.first_run)
    default = _workspace(cluster.home / "worker-default", cluster.first_run)
    assert (pod / "reports" / "metrics.json").read_bytes() == (default / "reports" / "metrics.json").read_bytes()


def test_a_cluster_run_is_a_dvc_experiment_on_the_git_remote_that_a_laptop_pulls_and_applies_whole(cluster, tmp_path):
    """The run's last task restored every stage on its worker, saved the run as an experiment and pushed its ref
    to TEXTFLOW_GIT_URL (the project here). A fresh clone of that remote, as on a laptop, lists it, pulls it and
    applies it: the metrics the default worker made and the model the gpu worker trained, from the DVC remote."""
    from pipelines.orchestration.experiments import experiment_name

    name = experiment_name(cluster.first_run)
    laptop = tmp_path / "laptop"
    run(["git", "clone", "-q", str(cluster.project), str(laptop)], tmp_path)
    run(["dvc", "remote", "add", "--local", "--default", "storage", "s3://textflow/dvc"], laptop)
    env = tool_env(cluster.client_env())
    listed = run(["dvc", "exp", "list", "--all-commits", "--name-only", "origin"], laptop, env=env).stdout.split()
    assert name in listed, listed
    run(["dvc", "exp", "pull", "origin", name], laptop, env=env)
    run(["dvc", "exp", "apply", name], laptop, env=env)
    default = _workspace(cluster.home / "worker-default", cluster.first_run)
    gpu = _workspace(cluster.home / "worker-gpu", cluster.first_run)
    assert (laptop / "reports/metrics.json").read_bytes() == (default / "reports/metrics.json").read_bytes()
    assert _sha256(laptop / "models/model.pt") == _sha256(gpu / "models/model.pt")


def _train_log(cluster, run_id: str, try_number: int) -> str:
    try:
        return task_log(cluster.dag_url, run_id, "train", cluster.token, try_number)
    except urllib.error.HTTPError:
        return ""


def _without_addresses(command: list[str]) -> list[str]:
    """A command minus the values of --host and --port (loopback and free ports here, 0.0.0.0 in compose)."""
    kept, skip = [], False
    for argument in command:
        if not skip:
            kept.append(argument)
        skip = argument in ("--host", "--port") and not skip
    return kept


def test_every_project_command_in_compose_is_one_this_cluster_ran(cluster):
    from tests.test_docker import compose_config

    services = compose_config()["services"]
    names = {
        "create-buckets": "create-buckets",
        "mlflow": "mlflow",
        "airflow-init": "airflow-init",
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
        "worker-default": "worker-default",
        "worker-gpu": "worker-gpu",
    }
    project_services = {name for name, spec in services.items() if spec["image"].startswith("textflow:")}
    assert project_services == set(names)
    for service, ran in names.items():
        assert _without_addresses(services[service]["command"]) == _without_addresses(cluster.commands[ran]), service
