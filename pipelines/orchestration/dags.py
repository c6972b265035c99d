"""Builds ``textflow_pipeline``: prepare a workspace for the run, then one task per dvc.yaml stage, wired
as dvc.yaml wires them; training goes where the GPUs are (see gpu.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines.orchestration import workspace
from pipelines.orchestration.dvc_stages import load_stages, upstream_stages
from pipelines.orchestration.form import FORM_KEYS, form_params, overrides_from_conf
from pipelines.orchestration.gpu import GpuExecution, container_train_task

PIPELINE_DAG_ID = "textflow_pipeline"
DOC = """
Runs the textflow DVC pipeline: each task is one `dvc.yaml` stage, run with `dvc repro --single-item` in
this DAG run's own git worktree with the project's shared DVC cache, so unchanged stages are restored from
cache and concurrent runs never share outputs. Trigger with the form to override params.yaml keys.
"""


def build_pipeline_dag(root: Path, execution: GpuExecution | None = None, dag_id: str = PIPELINE_DAG_ID) -> Any:
    from airflow.sdk import DAG, task

    root = root.resolve()
    execution = execution or GpuExecution.from_env()
    stages = load_stages(root / "dvc.yaml")
    params_file = root / "params.yaml"

    @task
    def prepare_workspace(params: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        conf = {key: (params or {})[key] for key in FORM_KEYS if key in (params or {})}
        overrides = overrides_from_conf(conf, params_file)
        return str(workspace.prepare_workspace(root, run_id or "manual", overrides))

    @task
    def run_stage(stage: str, workspace_path: str) -> None:
        workspace.run_stage(root, Path(workspace_path), stage)

    with DAG(
        dag_id,
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        params=form_params(params_file),
        tags=["textflow"],
        doc_md=DOC,
        max_active_runs=4,
    ) as dag:
        prepared = prepare_workspace()
        tasks = {}
        for name in stages:
            if name == "train" and execution.mode in ("kubernetes", "docker"):
                tasks[name] = container_train_task(execution, root, workspace.runs_dir(root))
                prepared >> tasks[name]
            else:
                options = execution.task_options() if name == "train" else {}
                tasks[name] = run_stage.override(task_id=name, **options)(stage=name, workspace_path=prepared)
        for name, upstream in upstream_stages(stages).items():
            for other in upstream:
                tasks[other] >> tasks[name]
    return dag
