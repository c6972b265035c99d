"""Where the training task runs. One task spec, four executions, chosen by ``TEXTFLOW_GPU_EXECUTION``:

- ``local`` / ``celery``: a Python task; with CeleryExecutor it also goes to queue ``gpu``, which only GPU
  workers consume (``airflow celery worker --queues gpu``).
- ``kubernetes``: a ``KubernetesPodOperator`` with an ``nvidia.com/gpu`` limit;
- ``docker``: a ``DockerOperator`` with a GPU device request, on the Docker API of ``DOCKER_HOST`` (podman's
  serves too); ``TEXTFLOW_DOCKER_NETWORK`` joins the container to a network (``host``, or compose's network so
  it reaches ``mlflow`` and ``s3`` by name), ``TEXTFLOW_GPUS=0`` runs it on CPU (a host without a GPU).
  Both run ``python -m pipelines.orchestration.run_task train --spec <run spec>`` in the project's image: the
  container builds the run's workspace from (commit, overrides) and the DVC remote like any worker, so it
  needs no volume shared with the Airflow workers.

How many trainings run at once: ``TEXTFLOW_TRAINING_SLOTS`` (default: the GPUs ``nvidia-smi`` lists, else 1).
A stock Airflow has only ``default_pool``, and a task in a pool that does not exist is never scheduled (the
only trace is a scheduler warning), so by default the limit is the task's own ``max_active_tis_per_dag``;
``TEXTFLOW_GPU_POOL`` names a pool instead (``make airflow`` creates ``gpu`` with that many slots and sets it),
so that one limit is shared by the pipeline and the sweep. The same number reaches the training as
``TEXTFLOW_CONCURRENT_TRAININGS`` so it sizes its CPU threads to its share of the cores.

Every mode gets the same ``execution_timeout`` and retries; a retried training resumes from the checkpoint
the previous try left in the workspace, or, across workers, in object storage (training/checkpoint_mirror.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pipelines.common.settings import duration_from_env
from pipelines.training.gpus import CONCURRENT_TRAININGS_ENV, listed_gpus

EXECUTION_MODES = ("local", "celery", "kubernetes", "docker")


def visible_gpus() -> int:
    return len(listed_gpus())


@dataclass(frozen=True)
class GpuExecution:
    mode: str = "local"
    pool: str | None = None
    slots: int = 1
    queue: str = "gpu"
    gpus: int = 1
    image: str = "textflow:cuda"
    namespace: str = "default"
    volume_claim: str = "textflow-runs"
    docker_network: str | None = None
    timeout: timedelta = timedelta(hours=6)
    retries: int = 2
    retry_delay: timedelta = timedelta(seconds=30)
    task_timeout: timedelta = timedelta(hours=2)

    @classmethod
    def from_env(cls) -> GpuExecution:
        mode = os.environ.get("TEXTFLOW_GPU_EXECUTION", "local")
        if mode not in EXECUTION_MODES:
            raise ValueError(f"TEXTFLOW_GPU_EXECUTION is {mode!r}; allowed: {', '.join(EXECUTION_MODES)}")
        slots = os.environ.get("TEXTFLOW_TRAINING_SLOTS") or max(visible_gpus(), 1)
        return cls(
            mode=mode,
            pool=os.environ.get("TEXTFLOW_GPU_POOL") or None,
            slots=max(int(slots), 1),
            queue=os.environ.get("TEXTFLOW_GPU_QUEUE", cls.queue),
            gpus=int(os.environ.get("TEXTFLOW_GPUS", cls.gpus)),
            image=os.environ.get("TEXTFLOW_IMAGE", cls.image),
            namespace=os.environ.get("TEXTFLOW_K8S_NAMESPACE", cls.namespace),
            volume_claim=os.environ.get("TEXTFLOW_RUNS_CLAIM", cls.volume_claim),
            docker_network=os.environ.get("TEXTFLOW_DOCKER_NETWORK") or None,
            timeout=duration_from_env("TEXTFLOW_TRAIN_TIMEOUT_MINUTES", "minutes", cls.timeout),
            task_timeout=duration_from_env("TEXTFLOW_TASK_TIMEOUT_MINUTES", "minutes", cls.task_timeout),
            retry_delay=duration_from_env("TEXTFLOW_RETRY_DELAY_SECONDS", "seconds", cls.retry_delay),
        )

    def default_args(self) -> dict[str, Any]:
        """Every task of both DAGs: retries with growing delays and a time limit. Each task is idempotent (DVC
        skips what is done, the register gate decides on the whole version list), so a retry after a blip of
        git, S3 or MLflow is safe, and a hung call cannot hold a run forever. The first delay,
        ``TEXTFLOW_RETRY_DELAY_SECONDS`` (default ``retry_delay``), doubles each retry."""
        return {
            "retries": self.retries,
            "retry_delay": self.retry_delay,
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": timedelta(minutes=10),
            "execution_timeout": self.task_timeout,
        }

    def task_options(self) -> dict[str, Any]:
        options: dict[str, Any] = self.default_args() | {"execution_timeout": self.timeout}
        if self.pool:
            options["pool"] = self.pool
        else:
            options["max_active_tis_per_dag"] = self.slots
        if self.mode == "celery":
            options["queue"] = self.queue
        return options

    def stage_env(self) -> dict[str, str]:
        """What the train stage is told about the trainings that share its machine."""
        return {CONCURRENT_TRAININGS_ENV: str(self.slots)}


SPEC_TEMPLATE = "{{ ti.xcom_pull(task_ids='prepare_workspace') | tojson }}"
SETTINGS_ENV = (
    "MLFLOW_TRACKING_URI",
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "TEXTFLOW_DVC_REMOTE",
    "TEXTFLOW_GIT_URL",
    "TEXTFLOW_CHECKPOINTS_URL",
    "MLFLOW_DISABLE_TELEMETRY",
)
SECRET_ENV = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
CREDENTIALS_SECRET = "textflow-credentials"


def container_arguments(stage: str) -> list[str]:
    """The container runs the stage from the run spec (commit, overrides) like any worker would, with the
    workspace built inside it and inputs pulled from the DVC remote."""
    return ["python", "-m", "pipelines.orchestration.run_task", stage, "--spec", SPEC_TEMPLATE]


def forwarded_env(names: tuple[str, ...]) -> dict[str, str]:
    return {name: os.environ[name] for name in names if os.environ.get(name)}


def container_train_task(execution: GpuExecution) -> Any:
    """The train task as a pod or a container (modes ``kubernetes`` and ``docker``). The tracking URI and remote
    settings are forwarded from the Airflow worker's environment; credentials come from the Kubernetes secret
    ``textflow-credentials`` (``kubectl create secret generic textflow-credentials --from-env-file=.env``) or the
    Docker API's private environment, never from a rendered template or a task log."""
    environment = forwarded_env(SETTINGS_ENV) | execution.stage_env()
    if execution.mode == "kubernetes":
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
        from kubernetes.client import models as k8s

        return KubernetesPodOperator(
            task_id="train",
            name="textflow-train",
            namespace=execution.namespace,
            image=execution.image,
            cmds=container_arguments("train")[:1],
            arguments=container_arguments("train")[1:],
            env_vars=environment,
            env_from=[k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=CREDENTIALS_SECRET))],
            container_resources=k8s.V1ResourceRequirements(limits={"nvidia.com/gpu": str(execution.gpus)}),
            get_logs=True,
            **execution.task_options(),
        )
    if execution.mode == "docker":
        from airflow.providers.docker.operators.docker import DockerOperator
        from docker.types import DeviceRequest

        return DockerOperator(
            task_id="train",
            image=execution.image,
            command=container_arguments("train"),
            environment=environment,
            private_environment=forwarded_env(SECRET_ENV),
            device_requests=[DeviceRequest(count=execution.gpus, capabilities=[["gpu"]])] if execution.gpus else None,
            network_mode=execution.docker_network,
            mount_tmp_dir=False,
            auto_remove="success",  # a failed one stays for `docker logs`
            **execution.task_options(),
        )
    raise ValueError(f"mode {execution.mode!r} runs train as a Python task, not a container")
