"""Where the training task runs. One task spec, three executions, chosen by ``TEXTFLOW_GPU_EXECUTION``:

- ``local`` / ``celery``: a Python task in pool ``gpu`` (slots = GPUs on the worker, created by
  ``make airflow``); with CeleryExecutor it also goes to queue ``gpu``, which only GPU workers consume
  (``airflow celery worker --queues gpu``).
- ``kubernetes``: a ``KubernetesPodOperator`` with an ``nvidia.com/gpu`` limit; the run workspaces live
  on a shared volume claim mounted at the same path as on the Airflow workers.
- ``docker``: a ``DockerOperator`` with a GPU device request and the workspaces bind-mounted.

Every mode gets the same ``execution_timeout`` and retries; a retried training resumes from the checkpoint
the previous try left in the workspace (the train stage persists it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipelines.tracking import ROOT_ENV

EXECUTION_MODES = ("local", "celery", "kubernetes", "docker")
WORKSPACE_TEMPLATE = "{{ ti.xcom_pull(task_ids='prepare_workspace') }}"


@dataclass(frozen=True)
class GpuExecution:
    mode: str = "local"
    pool: str = "gpu"
    queue: str = "gpu"
    gpus: int = 1
    image: str = "textflow:cuda"
    namespace: str = "default"
    volume_claim: str = "textflow-runs"
    timeout: timedelta = timedelta(hours=6)
    retries: int = 2

    @classmethod
    def from_env(cls) -> GpuExecution:
        mode = os.environ.get("TEXTFLOW_GPU_EXECUTION", "local")
        if mode not in EXECUTION_MODES:
            raise ValueError(f"TEXTFLOW_GPU_EXECUTION is {mode!r}; allowed: {', '.join(EXECUTION_MODES)}")
        return cls(
            mode=mode,
            pool=os.environ.get("TEXTFLOW_GPU_POOL", cls.pool),
            queue=os.environ.get("TEXTFLOW_GPU_QUEUE", cls.queue),
            gpus=int(os.environ.get("TEXTFLOW_GPUS", cls.gpus)),
            image=os.environ.get("TEXTFLOW_IMAGE", cls.image),
            namespace=os.environ.get("TEXTFLOW_K8S_NAMESPACE", cls.namespace),
            volume_claim=os.environ.get("TEXTFLOW_RUNS_CLAIM", cls.volume_claim),
            timeout=timedelta(minutes=float(os.environ.get("TEXTFLOW_TRAIN_TIMEOUT_MINUTES", 360))),
        )

    def task_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "pool": self.pool,
            "execution_timeout": self.timeout,
            "retries": self.retries,
            "retry_delay": timedelta(seconds=30),
        }
        if self.mode == "celery":
            options["queue"] = self.queue
        return options


def container_command(stage: str) -> str:
    return f"cd {WORKSPACE_TEMPLATE} && python -m dvc repro --single-item {stage}"


def container_train_task(execution: GpuExecution, root: Path, runs: Path) -> Any:
    """The train task as a pod or a container (modes ``kubernetes`` and ``docker``)."""
    environment = {ROOT_ENV: str(root), "TEXTFLOW_RUNS_DIR": str(runs)}
    if execution.mode == "kubernetes":
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
        from kubernetes.client import models as k8s

        return KubernetesPodOperator(
            task_id="train",
            name="textflow-train",
            namespace=execution.namespace,
            image=execution.image,
            cmds=["bash", "-c"],
            arguments=[container_command("train")],
            env_vars=environment,
            container_resources=k8s.V1ResourceRequirements(limits={"nvidia.com/gpu": str(execution.gpus)}),
            volumes=[
                k8s.V1Volume(
                    name="runs",
                    persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(claim_name=execution.volume_claim),
                )
            ],
            volume_mounts=[k8s.V1VolumeMount(name="runs", mount_path=str(runs))],
            get_logs=True,
            **execution.task_options(),
        )
    if execution.mode == "docker":
        from airflow.providers.docker.operators.docker import DockerOperator
        from docker.types import DeviceRequest, Mount

        return DockerOperator(
            task_id="train",
            image=execution.image,
            command=["bash", "-c", container_command("train")],
            environment=environment,
            device_requests=[DeviceRequest(count=execution.gpus, capabilities=[["gpu"]])],
            mounts=[
                Mount(target=str(runs), source=str(runs), type="bind"),
                Mount(target=str(root / "mlruns"), source=str(root / "mlruns"), type="bind"),
            ],
            mount_tmp_dir=False,
            **execution.task_options(),
        )
    raise ValueError(f"mode {execution.mode!r} runs train as a Python task, not a container")
