"""Builds ``textflow_pipeline``: prepare a workspace for the run, then one task per dvc.yaml stage, wired
as dvc.yaml wires them; training goes where the GPUs are (see gpu.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines import tracking
from pipelines.config import load_params
from pipelines.orchestration import workspace
from pipelines.orchestration.dvc_stages import load_stages, upstream_stages
from pipelines.orchestration.form import FORM_KEYS, form_params, overrides_from_conf
from pipelines.orchestration.gpu import GpuExecution, container_train_task
from pipelines.orchestration.sweep import MAX_COMBINATIONS, best_training, expand_grid, training_result

PIPELINE_DAG_ID = "textflow_pipeline"
SWEEP_DAG_ID = "textflow_sweep"
DEFAULT_GRID = {"model.type": ["fasttext", "textcnn"], "train.learning_rate": [0.001, 0.003]}
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


def ancestors(stage: str, upstream: dict[str, list[str]], order: list[str]) -> list[str]:
    """Every stage ``stage`` transitively reads from, in dvc.yaml order."""
    found: set[str] = set()
    pending = list(upstream[stage])
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending.extend(upstream[name])
    return [name for name in order if name in found]


def build_sweep_dag(root: Path, execution: GpuExecution | None = None, dag_id: str = SWEEP_DAG_ID) -> Any:
    """``textflow_sweep``: upstream stages once, one mapped training per grid combination (children of one
    MLflow parent run), then the best by validation accuracy through the register stage's gate."""
    from airflow.sdk import DAG, Param, get_current_context, task

    root = root.resolve()
    execution = execution or GpuExecution.from_env()
    params_file = root / "params.yaml"
    stages = load_stages(root / "dvc.yaml")
    before_train = ancestors("train", upstream_stages(stages), list(stages))

    @task
    def expand(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return expand_grid((params or {}).get("grid") or {}, params_file)

    @task
    def run_upstream(run_id: str | None = None) -> str:
        space = workspace.prepare_workspace(root, f"{run_id}-upstream", {})
        for stage in before_train:
            workspace.run_stage(root, space, stage)
        return str(space)

    @task
    def start_parent(params: dict[str, Any] | None = None, run_id: str | None = None) -> str | None:
        settings = load_params(params_file)
        if not settings.tracking.enabled:
            return None
        return tracking.start_parent_run(f"sweep {run_id}", settings.tracking.experiment, (params or {}).get("grid"))

    @task(**execution.task_options())
    def train_combination(overrides: dict[str, Any], parent: str | None, upstream: str) -> dict[str, Any]:
        """``upstream`` (the upstream workspace) orders this after it; its outputs reach this workspace
        through DVC's run-cache in the shared cache."""
        context = get_current_context()
        index = context["ti"].map_index
        space = workspace.prepare_workspace(root, f"{context['run_id']}-{index}", overrides)
        extra = {tracking.PARENT_ENV: parent} if parent else {}
        for stage in [*before_train, "train", "evaluate"]:
            workspace.run_stage(root, space, stage, extra)
        return training_result(space, index, overrides)

    @task
    def register_best(results: list[dict[str, Any]]) -> dict[str, Any]:
        best = best_training(list(results))
        workspace.run_stage(root, Path(best["workspace"]), "register")
        return best

    with DAG(
        dag_id,
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        params={
            "grid": Param(
                DEFAULT_GRID,
                type="object",
                description=(
                    f"params.yaml keys (model.*, train.*, seed) -> lists of values; at most {MAX_COMBINATIONS} combinations"
                ),
            )
        },
        tags=["textflow"],
        doc_md=build_sweep_dag.__doc__,
    ) as dag:
        upstream = run_upstream()
        results = train_combination.partial(parent=start_parent(), upstream=upstream).expand(overrides=expand())
        register_best(results)
    return dag
