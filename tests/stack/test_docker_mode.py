"""``TEXTFLOW_GPU_EXECUTION=docker`` for real: the train task a DockerOperator on podman's Docker API, its
container from the image built from docker/Dockerfile (see tests/stack/harness.py). Part of ``make test-stack``."""

from __future__ import annotations

import subprocess
import time

import pytest

from pipelines.orchestration.airflow_rest import dag_api_url, finished_run, task_log, trigger, unpause
from pipelines.orchestration.dags import PIPELINE_DAG_ID
from tests.conftest import free_port
from tests.stack.harness import TRANSCRIPT, podman

pytestmark = pytest.mark.stack


@pytest.fixture
def git_server(tmp_path):
    """A committed copy of the project behind ``git daemon`` on loopback: what a container can clone from (it
    cannot see a directory of this machine), as it would clone from a team's git server."""
    from tests.conftest import copy_project

    served = tmp_path / "git"
    project = copy_project(served / "textflow", {"dataset": {"demo": {"train_size": 600, "test_size": 200}},
                                                 "train": {"epochs": 2}})  # fmt: skip
    port = free_port()
    daemon = subprocess.Popen(
        ["git", "daemon", "--export-all", f"--base-path={served}", "--listen=127.0.0.1", f"--port={port}",
         "--reuseaddr", str(served)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        url = f"git://127.0.0.1:{port}/textflow"
        while subprocess.run(["git", "ls-remote", url], capture_output=True, timeout=30).returncode != 0:
            assert daemon.poll() is None and time.monotonic() < deadline, "git daemon did not start"
            time.sleep(0.3)
        yield project, url
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


def test_the_docker_training_mode_trains_in_a_container_from_the_image(images, docker_host, git_server, tmp_path):
    """TEXTFLOW_GPU_EXECUTION=docker for real, against podman's Docker API: `make cluster`'s services on this
    machine, the train task a DockerOperator whose container (host network, no GPU here) clones the run's commit
    from the git server, pulls its inputs from the DVC remote and logs to the MLflow server like any worker."""
    from pipelines.orchestration.airflow_rest import login
    from pipelines.orchestration.cluster import running_cluster

    project, url = git_server
    settings = {
        "TEXTFLOW_GPU_EXECUTION": "docker",
        "DOCKER_HOST": docker_host,
        "TEXTFLOW_IMAGE": images,
        "TEXTFLOW_DOCKER_NETWORK": "host",
        "TEXTFLOW_GPUS": "0",
        "TEXTFLOW_GIT_URL": url,
    }

    def containers() -> set[str]:
        return set(podman("ps", "-a", "--filter", f"ancestor={images}", "--format", "{{.Names}}").stdout.split())

    before = containers()
    began = time.monotonic()
    with running_cluster(project, tmp_path / "cluster", settings) as cluster:
        token = login(cluster.airflow_url, cluster.home / "airflow" / "simple_auth_manager_passwords.json.generated")
        dag_url = dag_api_url(cluster.airflow_url, PIPELINE_DAG_ID)
        unpause(dag_url, token)
        run_id = trigger(dag_url, token, {})
        state, states = finished_run(dag_url, run_id, token, time.monotonic() + 1800)
        TRANSCRIPT.append(
            f"| textflow_pipeline with TEXTFLOW_GPU_EXECUTION=docker (make cluster's services) | REST v2 | "
            f"{time.monotonic() - began:.0f} s | {state} |"
        )
        train_log = task_log(dag_url, run_id, "train", token)
        assert state == "success", f"{states}\n{train_log[-3000:]}"
        assert f"Starting docker container from image {images}" in train_log
        assert "[train]" in train_log, "the stage's own output came back from the container"
    assert containers() == before, "the training container was removed once it succeeded"
