"""Where the training task runs. One task spec, four executions, chosen by ``TEXTFLOW_GPU_EXECUTION``:

- ``local`` / ``celery``: a Python task; with CeleryExecutor it also goes to queue ``gpu``, which only GPU
  workers consume (``airflow celery worker --queues gpu``).
- ``kubernetes``: a ``KubernetesPodOperator`` with an ``nvidia.com/gpu`` limit; the run workspaces live
  on a shared volume claim mounted at the same path as on the Airflow workers.
- ``docker``: a ``DockerOperator`` with a GPU device request and the workspaces bind-mounted.

How many trainings run at once: ``TEXTFLOW_TRAINING_SLOTS`` (default: the GPUs ``nvidia-smi`` lists, else 1).
A stock Airflow has only ``default_pool``, and a task in a pool that does not exist is never scheduled (the
only trace is a scheduler warning), so by default the limit is the task's own ``max_active_tis_per_dag``;
``TEXTFLOW_GPU_POOL`` names a pool instead (``make airflow`` creates ``gpu`` with that many slots and sets it),
so that one limit is shared by the pipeline and the sweep. The same number reaches the training as
``TEXTFLOW_CONCURRENT_TRAININGS`` so it sizes its CPU threads to its share of the cores.

Every mode gets the same ``execution_timeout`` and retries; a retried training resumes from the checkpoint
the previous try left in the workspace (the train stage persists it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipelines.project import ROOT_ENV
from pipelines.training.device import CONCURRENT_TRAININGS_ENV

EXECUTION_MODES = ("local", "celery", "kubernetes", "docker")
WORKSPACE_TEMPLATE = "{{ ti.xcom_pull(task_ids='prepare_workspace') }}"


def visible_gpus() -> int:
    if not shutil.which("nvidia-smi"):
        return 0
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in listing.splitlines() if line.startswith("GPU"))


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
    timeout: timedelta = timedelta(hours=6)
    retries: int = 2

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
            timeout=timedelta(minutes=float(os.environ.get("TEXTFLOW_TRAIN_TIMEOUT_MINUTES", 360))),
        )

    def task_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "execution_timeout": self.timeout,
            "retries": self.retries,
            "retry_delay": timedelta(seconds=30),
        }
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


def container_command(stage: str) -> str:
    return f"cd {WORKSPACE_TEMPLATE} && python -m dvc repro --single-item {stage}"


def container_train_task(execution: GpuExecution, root: Path, runs: Path) -> Any:
    """The train task as a pod or a container (modes ``kubernetes`` and ``docker``)."""
    environment = {ROOT_ENV: str(root), "TEXTFLOW_RUNS_DIR": str(runs), **execution.stage_env()}
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
