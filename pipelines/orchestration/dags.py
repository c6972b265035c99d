"""Builds ``textflow_pipeline``: prepare a workspace for the run, then one task per dvc.yaml stage, wired
as dvc.yaml wires them; training goes where the GPUs are (see gpu.py).

Both DAGs are built from the *committed* dvc.yaml and params.yaml of the project's HEAD, and that commit is
part of the trigger form; the run checks it out, so the task list, the form's defaults and what runs are one
version of the project, whatever is edited in the working tree meanwhile.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines import tracking
from pipelines.config import field_schema, flatten, params_from_dict
from pipelines.config.pipeline import Stage, ancestors, parse_stages, split_params, upstream_stages
from pipelines.orchestration import experiments, workspace
from pipelines.orchestration.assets import announce_registration, model_outlets, registration_report
from pipelines.orchestration.form import (
    COMMIT_KEY,
    FORM_SECTIONS,
    REBUILD_KEY,
    commit_param,
    form_params,
    overrides_from_conf,
)
from pipelines.orchestration.gpu import GpuExecution, container_train_task
from pipelines.orchestration.links import mlflow_run_link
from pipelines.orchestration.notify import failure_callbacks
from pipelines.orchestration.retrain import DATA_ASSET_URI, retrain_spec
from pipelines.orchestration.retries import fail_at_once_on_bad_input
from pipelines.orchestration.sweep import (
    MAX_COMBINATIONS,
    MODES,
    SEARCH_ROUNDS,
    best_training,
    pruned_result,
    refit_proposal,
    round_trials,
    search_settings,
    training_result,
    write_trial_file,
)

PIPELINE_DAG_ID = "textflow_pipeline"
REGISTER_STAGE = "register"
SAVE_EXPERIMENT_TASK = "save_experiment"
"""The pipeline DAG's last task: the run saved as a DVC experiment (pipelines/orchestration/experiments.py)."""
SWEEP_DAG_ID = "textflow_sweep"
SEARCH_FORM_KEYS = (
    "search.trials",
    "search.parallel",
    "search.minutes",
    "search.model_types",
    "search.seed",
    "search.ensemble_size",
)
"""The search settings the sweep's form shows; any other ``search.*`` key (the spaces) may come in REST conf."""
REGISTER_FORM_KEYS = FORM_SECTIONS["Registry"]
"""The register settings the sweep's form shows, as the pipeline's does; any ``register.*`` key may come in
REST conf."""
DEFAULT_GRID = {"model.type": ["fasttext", "textcnn"], "train.learning_rate": [0.001, 0.003]}
DOC = """
Runs the textflow DVC pipeline: each task is one `dvc.yaml` stage, run with `dvc repro --single-item` in
this DAG run's own git worktree (at the commit shown in the form) with the project's shared DVC cache, so
unchanged stages are restored from cache and concurrent runs never share outputs. Trigger with the form to
override params.yaml keys; a REST trigger's conf may set any params.yaml key.
"""

RETRAIN_DOC = """
Retrains when new data is announced: an event on the Asset `textflow://data` (REST `POST /api/v2/assets/events`,
extra `{"model": "<registered name>"}` optional, or a producer task's outlet) runs the textflow pipeline with the
current champion's params at the project's commit. Data the champion was trained on skips the run.
"""


class ProjectVersion:
    """The commit a DAG is built from, with its params and stage graph."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.commit = workspace.head_commit(self.root)
        self.params = workspace.committed_params(self.root, self.commit)
        self.stages: dict[str, Stage] = parse_stages(workspace.committed_text(self.root, self.commit, "dvc.yaml"))

    def flat_params(self) -> dict[str, Any]:
        return flatten(params_from_dict(self.params, source="params.yaml", resolve=False))

    def form(self) -> dict[str, Any]:
        return form_params(self.flat_params(), self.commit)


def run_conf(params: dict[str, Any] | None, dag_run: Any) -> dict[str, Any]:
    """The form's values, then every key of the run's conf (a REST trigger may send keys the form lacks)."""
    return {**dict(params or {}), **dict(getattr(dag_run, "conf", None) or {})}


def run_commit(root: Path, conf: dict[str, Any] | None) -> str:
    """The commit a run uses: the one its form showed (``git_commit``), else HEAD (a REST trigger without it)."""
    return (conf or {}).get(COMMIT_KEY) or workspace.head_commit(root)


def run_spec(root: Path, run_id: str, conf: dict[str, Any]) -> dict[str, Any]:
    """What a DAG run is, as its tasks pass it on: (run id, commit, overrides checked against that commit's
    params). Each task builds the workspace from it on its own worker; no path travels between tasks."""
    commit = run_commit(root, conf)
    overrides = overrides_from_conf(conf, workspace.committed_params(root, commit))
    workspace.warn_if_uncommitted(root, commit)
    return {"run_id": run_id, "commit": commit, "overrides": overrides, "force": bool(conf.get(REBUILD_KEY))}


def workspace_for_spec(root: Path, spec: dict[str, Any]) -> Path:
    return workspace.prepare_workspace(root, spec["run_id"], spec["overrides"], spec["commit"])


def build_pipeline_dag(
    root: Path, execution: GpuExecution | None = None, dag_id: str = PIPELINE_DAG_ID, retrain: bool = False
) -> Any:
    """``textflow_pipeline``; with ``retrain``, ``textflow_retrain``: the same tasks, scheduled on the data
    Asset with the champion's params instead of a form (pipelines/orchestration/retrain.py)."""
    from airflow.sdk import DAG, Asset, task
    from airflow.sdk.exceptions import AirflowSkipException

    from pipelines.orchestration.approval import champion_approval

    version = ProjectVersion(root)
    root = version.root
    execution = execution or GpuExecution.from_env()

    @task
    @fail_at_once_on_bad_input
    def prepare_workspace(
        params: dict[str, Any] | None = None, run_id: str | None = None, dag_run=None, triggering_asset_events=None
    ) -> dict:
        """Skipped, and every task after it, when a retrain finds the champion's own data."""
        if retrain:
            spec = retrain_spec(root, run_id or "manual", triggering_asset_events)
            if spec is None:
                raise AirflowSkipException("the announced data is what the champion was trained on")
            return spec
        spec = run_spec(root, run_id or "manual", run_conf(params, dag_run))
        workspace_for_spec(root, spec)
        return spec

    @task
    @fail_at_once_on_bad_input
    def run_stage(stage: str, spec: dict[str, Any], environment: dict[str, str], outlet_events=None) -> dict | None:
        """The register stage's report is the register task's return value, for the approval step."""
        space = workspace_for_spec(root, spec)
        workspace.run_stage(root, space, stage, environment, force=spec.get("force", False))
        if stage != REGISTER_STAGE:
            return None
        announce_registration(space, outlet_events)
        return registration_report(space)

    @task
    @fail_at_once_on_bad_input
    def save_experiment(spec: dict[str, Any]) -> str:
        return experiments.save_experiment(root, workspace_for_spec(root, spec), spec["run_id"])

    with DAG(
        dag_id,
        schedule=[Asset(DATA_ASSET_URI)] if retrain else None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        params={} if retrain else version.form(),
        tags=["textflow"],
        doc_md=RETRAIN_DOC if retrain else DOC,
        max_active_runs=4,
        default_args=execution.default_args() | failure_callbacks(),
    ) as dag:
        prepared = prepare_workspace()
        tasks = {}
        for name in version.stages:
            if name == "train" and execution.mode in ("kubernetes", "docker"):
                tasks[name] = container_train_task(execution)
                prepared >> tasks[name]
            else:
                options = execution.task_options() if name == "train" else {}
                if name == REGISTER_STAGE:
                    options = {"outlets": model_outlets()}
                environment = execution.stage_env() if name == "train" else {}
                tasks[name] = run_stage.override(task_id=name, **options)(
                    stage=name, spec=prepared, environment=environment
                )
                if name == "train":  # a container's training leaves its run file in the container, not here
                    tasks[name].operator.operator_extra_links = (mlflow_run_link(root),)
        upstream_of = upstream_stages(version.stages)
        for name, upstream in upstream_of.items():
            for other in upstream:
                tasks[other] >> tasks[name]
        champion_approval(tasks[REGISTER_STAGE])
        last = [name for name in version.stages if not any(name in upstream for upstream in upstream_of.values())]
        [tasks[name] for name in last] >> save_experiment.override(task_id=SAVE_EXPERIMENT_TASK)(prepared)
    return dag


def build_sweep_dag(root: Path, execution: GpuExecution | None = None, dag_id: str = SWEEP_DAG_ID) -> Any:
    """``textflow_sweep``: upstream stages once, then rounds of mapped trainings (children of one MLflow parent
    run): in ``grid`` mode one round of every combination of ``grid``; in ``search`` mode rounds of
    ``search.parallel`` trials proposed by TPE from the earlier rounds' validation scores, poor trials pruned
    after an epoch, until the budget (``search.trials``, ``search.minutes``) is spent. The best on the gate's own
    metric (validation `register.metric`, or perplexity) goes through the register stage's gate."""
    from airflow.sdk import DAG, Param, get_current_context, task
    from airflow.sdk.exceptions import AirflowSkipException

    from pipelines.orchestration.approval import champion_approval

    version = ProjectVersion(root)
    root = version.root
    execution = execution or GpuExecution.from_env()
    before_train = ancestors("train", upstream_stages(version.stages), list(version.stages))
    split_stage_params = split_params(version.stages)

    @task
    @fail_at_once_on_bad_input
    def propose_round(round_number: int, earlier_rounds: list, params: dict[str, Any] | None = None) -> list[dict]:
        """Skipped, with its later rounds, once the sweep has nothing more to train."""
        conf = run_conf(params, get_current_context()["dag_run"])
        began = get_current_context()["dag_run"].start_date
        trials, reason = round_trials(
            conf.get("mode", "grid"),
            round_number,
            conf=conf,
            committed=workspace.committed_params(root, run_commit(root, conf)),
            split_stage_params=split_stage_params,
            earlier=[result for results in earlier_rounds for result in results],
            minutes_elapsed=(datetime.now(UTC) - began).total_seconds() / 60 if began else 0.0,
        )
        if not trials:
            raise AirflowSkipException(f"round {round_number}: nothing to train: {reason}")
        return trials

    @task
    @fail_at_once_on_bad_input
    def run_upstream(params: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        space = workspace.prepare_workspace(root, f"{run_id}-upstream", {}, run_commit(root, params))
        for stage in before_train:
            workspace.run_stage(root, space, stage)
        return str(space)

    @task
    @fail_at_once_on_bad_input
    def start_parent(params: dict[str, Any] | None = None, run_id: str | None = None) -> str | None:
        conf = run_conf(params, get_current_context()["dag_run"])
        committed = workspace.committed_params(root, run_commit(root, conf))
        settings = params_from_dict(committed, source="params.yaml")
        if not settings.tracking.enabled:
            return None
        mode = conf.get("mode", "grid")
        described = {"grid": conf.get("grid")} if mode == "grid" else search_settings(committed, conf)[0].model_dump()
        return tracking.start_parent_run(f"{mode} {run_id}", settings.tracking.experiment, {"mode": mode, **described})

    def train_proposal(proposal: dict[str, Any], parent: str | None, params: dict[str, Any] | None) -> dict[str, Any]:
        """One training of the sweep in its own workspace, upstream outputs restored through DVC's run-cache in
        the shared cache (a stage whose params the proposal changes runs there instead). A pruned search trial
        is a result, not a failure; a finished one is saved as a DVC experiment."""
        index = proposal["trial"]
        spec = {
            "run_id": f"{get_current_context()['run_id']}-{index}",
            "commit": run_commit(root, params),
            "overrides": proposal["overrides"],
        }
        space = workspace_for_spec(root, spec)
        extra = {tracking.PARENT_ENV: parent} if parent else {}
        trial_env = write_trial_file(space, proposal)
        trained = [*before_train, "train", "evaluate"]
        for stage in trained:
            environment = extra | (execution.stage_env() | trial_env if stage == "train" else {})
            try:
                workspace.run_stage(root, space, stage, environment)
            except RuntimeError:
                pruned = pruned_result(space, proposal, spec) if stage == "train" else None
                if pruned is None:
                    raise
                return pruned
        experiments.save_experiment(root, space, spec["run_id"], trained)
        return training_result(space, index, spec, proposal)

    @task(**execution.task_options())
    @fail_at_once_on_bad_input
    def train_trial(
        proposal: dict[str, Any], parent: str | None, upstream: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``upstream`` (the upstream workspace) orders this after it."""
        return train_proposal(proposal, parent, params)

    @task(**execution.task_options(), trigger_rule="none_failed_min_one_success")
    @fail_at_once_on_bad_input
    def refit_best(rounds: list, parent: str | None, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The search's best settings trained again as a seed ensemble (``search.ensemble_size``); skipped in
        grid mode and at size 1."""
        conf = run_conf(params, get_current_context()["dag_run"])
        proposal, reason = refit_proposal(
            conf.get("mode", "grid"),
            conf=conf,
            committed=workspace.committed_params(root, run_commit(root, conf)),
            results=[result for results in rounds for result in results],
        )
        if proposal is None:
            raise AirflowSkipException(reason)
        return train_proposal(proposal, parent, params)

    @task(trigger_rule="none_failed_min_one_success", outlets=model_outlets())
    @fail_at_once_on_bad_input
    def register_best(
        rounds: list,
        parent: str | None,
        refit: dict[str, Any] | None,
        params: dict[str, Any] | None = None,
        outlet_events=None,
    ) -> dict[str, Any]:
        """The register stage in the best training's workspace (``refit`` among them unless it was skipped),
        with the sweep's ``register.*`` settings (``register.approval`` from the form); returns its report, for
        the approval step."""
        results = [result for results in rounds for result in results] + ([refit] if refit else [])
        best = best_training(results)
        if parent:
            tracking.log_sweep_results(parent, results, best)
        conf = run_conf(params, get_current_context()["dag_run"])
        register_keys = {key: value for key, value in conf.items() if key.startswith(f"{REGISTER_STAGE}.")}
        overrides = overrides_from_conf(register_keys, workspace.committed_params(root, best["spec"]["commit"]))
        space = workspace_for_spec(root, best["spec"] | {"overrides": best["spec"]["overrides"] | overrides})
        workspace.run_stage(root, space, REGISTER_STAGE)
        announce_registration(space, outlet_events)
        return registration_report(space)

    defaults = version.flat_params()
    budget = {
        key: Param(defaults[key], **field_schema(key), title=key) for key in SEARCH_FORM_KEYS + REGISTER_FORM_KEYS
    }
    with DAG(
        dag_id,
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        params={
            "mode": Param(
                "grid",
                enum=list(MODES),
                description="grid: every combination of grid; search: TPE "
                "within search.spaces (params.yaml), budgeted below",
            ),
            "grid": Param(
                DEFAULT_GRID,
                type="object",
                description=(
                    f"grid mode: params.yaml keys -> lists of values, at most {MAX_COMBINATIONS} combinations; "
                    "any key but those that decide the splits (dataset.*, validate.*)"
                ),
            ),
            **budget,
            COMMIT_KEY: commit_param(version.commit),
        },
        tags=["textflow"],
        doc_md=build_sweep_dag.__doc__,
        default_args=execution.default_args() | failure_callbacks(),
    ) as dag:
        upstream = run_upstream()
        parent = start_parent()
        rounds = []
        for round_number in range(SEARCH_ROUNDS):
            proposals = propose_round.override(task_id=f"propose_{round_number}")(round_number, list(rounds))
            rounds.append(
                train_trial.override(task_id=f"train_{round_number}")
                .partial(parent=parent, upstream=upstream)
                .expand(proposal=proposals)
            )
        registered = register_best(rounds, parent, refit_best(rounds, parent))
        champion_approval(registered)
    return dag
