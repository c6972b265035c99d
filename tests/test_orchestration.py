"""What a DAG run will do, checked without a scheduler: every conf key applied or refused by name, the form
and the run from one commit, sweepable keys read from dvc.yaml, parallel stages in one workspace, and the
training slots on a stock Airflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from pipelines.config import ConfigError
from pipelines.config.pipeline import load_stages, split_params, stages_before
from pipelines.orchestration import workspace
from pipelines.orchestration.dags import build_pipeline_dag, run_spec, workspace_for_spec
from pipelines.orchestration.form import COMMIT_KEY, overrides_from_conf
from pipelines.orchestration.gpu import GpuExecution
from pipelines.orchestration.sweep import expand_grid
from pipelines.stages import STAGES_TO_RUN_ENV
from tests.conftest import ROOT, captured_log, copy_project, run, run_at_once, tool_env

COMMITTED = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_every_params_key_of_a_conf_is_applied_not_only_the_forms():
    overrides = overrides_from_conf({"train.weight_decay": 0.01, "model.type": "textcnn"}, COMMITTED)
    assert overrides == {"train.weight_decay": 0.01}, "keys outside the form count; values equal to params.yaml drop"


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"train.wieght_decay": 0.01}, "unknown key 'train.wieght_decay'"),
        ({"train.weight_decay": -1}, "'train.weight_decay' is -1"),
        ({"model.type": "gpt"}, "'model.type' is 'gpt'; allowed values"),
        ({"seed": 3}, "'seed' was split in two"),
    ],
)
def test_a_bad_conf_key_or_value_fails_naming_it(conf, message):
    with pytest.raises(ConfigError, match=message):
        overrides_from_conf(conf, COMMITTED)


@pytest.fixture
def project(tmp_path):
    return copy_project(tmp_path / "project", {})


def workspace_for_conf(project, run_id: str, conf: dict):
    """What the DAG's tasks do with a trigger's conf: its run spec, then the workspace built from it."""
    return workspace_for_spec(project, run_spec(project, run_id, conf))


def _commit(project, message: str) -> str:
    run(["git", "commit", "-qam", message], project)
    return run(["git", "rev-parse", "HEAD"], project).stdout.strip()


def test_the_form_and_the_run_use_the_committed_params_not_an_uncommitted_edit(project):
    form_commit = run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    edited = (project / "params.yaml").read_text().replace("  epochs: 15", "  epochs: 99")
    (project / "params.yaml").write_text(edited)
    dag = build_pipeline_dag(project, GpuExecution())
    assert dag.params.get_param("train.epochs").value == 15, "the form shows what the run will use"
    assert dag.params.get_param(COMMIT_KEY).value == form_commit

    with captured_log("pipelines.orchestration.workspace") as messages:
        space = workspace_for_conf(project, "form-run", {COMMIT_KEY: form_commit, "train.weight_decay": 0.01})
    params = yaml.safe_load((space / "params.yaml").read_text())
    assert params["train"]["epochs"] == 15 and params["train"]["weight_decay"] == 0.01
    warning = "\n".join(messages)
    assert "params.yaml in the project directory differ" in warning and "Commit the change" in warning


def test_a_run_checks_out_the_commit_its_form_showed_even_after_a_new_commit(project):
    form_commit = run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    (project / "params.yaml").write_text((project / "params.yaml").read_text().replace("  epochs: 15", "  epochs: 7"))
    newer = _commit(project, "fewer epochs")
    pinned = workspace_for_conf(project, "pinned", {COMMIT_KEY: form_commit})
    assert run(["git", "rev-parse", "HEAD"], pinned).stdout.strip() == form_commit
    assert yaml.safe_load((pinned / "params.yaml").read_text())["train"]["epochs"] == 15
    latest = workspace_for_conf(project, "latest", {})
    assert run(["git", "rev-parse", "HEAD"], latest).stdout.strip() == newer


def test_the_task_list_comes_from_the_committed_dvc_yaml(project):
    (project / "dvc.yaml").write_text((project / "dvc.yaml").read_text().replace("  register:", "  registerx:"))
    assert "register" in build_pipeline_dag(project, GpuExecution()).task_dict


def test_a_grid_may_vary_what_the_stages_after_the_splits_read_but_not_what_decides_the_splits():
    """Read from dvc.yaml: the cleaning, tokens and vectors are re-run per training; the data, its seed and the
    split fractions would validate each training on other examples."""
    fixed = split_params(load_stages(ROOT / "dvc.yaml"))
    grid = expand_grid({"model.type": ["textcnn", "bigru"], "train.seed": [1, 2]}, COMMITTED, fixed)
    assert len(grid) == 4 and {"model.type": "bigru", "train.seed": 2} in grid
    grid = expand_grid(
        {"clean.style": ["treebank", "kim"], "embed.dim": [16], "tokenize.method": ["word"]}, COMMITTED, fixed
    )
    assert [combination["clean.style"] for combination in grid] == ["treebank", "kim"]
    for key, values in (
        ("dataset.seed", [1, 2]),
        ("validate.valid_fraction", [0.1, 0.2]),
        ("task", ["classification"]),
    ):
        with pytest.raises(ConfigError, match=f"'{key}' is read by validate or a stage before it"):
            expand_grid({key: values}, COMMITTED, fixed)
    with pytest.raises(ConfigError, match="17 combinations; the limit is 16"):
        expand_grid({"train.seed": list(range(17))}, COMMITTED, fixed)
    with pytest.raises(ConfigError, match="'model.type' is 'gpt'"):
        expand_grid({"model.type": ["textcnn", "gpt"]}, COMMITTED, fixed)


def test_two_stages_started_at_once_in_one_workspace_both_succeed(project):
    """DVC fails a second `dvc repro` in a workspace with "Unable to acquire lock"; run_stage queues it.

    The two are the same stage (a retry overlapping a try still running) so that either order is a valid one:
    a stage started before its upstream has finished fails for a different reason."""
    space = workspace.prepare_workspace(project, "parallel", {})
    workspace.run_stage(project, space, "local_files")
    errors: list[BaseException] = []

    def stage(name: str) -> None:
        try:
            workspace.run_stage(project, space, name)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=stage, args=(name,)) for name in ("download", "download")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert (space / "data" / "raw" / "manifest.json").exists()


def test_a_stock_airflow_needs_no_pool_and_training_knows_its_share(monkeypatch):
    for name in ("TEXTFLOW_GPU_POOL", "TEXTFLOW_TRAINING_SLOTS"):
        monkeypatch.delenv(name, raising=False)
    train = build_pipeline_dag(ROOT, GpuExecution.from_env()).get_task("train")
    assert train.pool == "default_pool" and train.max_active_tis_per_dag == 1
    assert train.op_kwargs["environment"] == {"TEXTFLOW_CONCURRENT_TRAININGS": "1"}
    monkeypatch.setenv("TEXTFLOW_GPU_POOL", "gpu")
    monkeypatch.setenv("TEXTFLOW_TRAINING_SLOTS", "3")
    pooled = build_pipeline_dag(ROOT, GpuExecution.from_env()).get_task("train")
    assert pooled.pool == "gpu" and pooled.op_kwargs["environment"] == {"TEXTFLOW_CONCURRENT_TRAININGS": "3"}


def test_every_task_retries_after_the_configured_delay_doubling_each_time(monkeypatch):
    monkeypatch.delenv("TEXTFLOW_RETRY_DELAY_SECONDS", raising=False)
    default = build_pipeline_dag(ROOT, GpuExecution.from_env())
    assert {task.retry_delay.total_seconds() for task in default.tasks} == {30}
    monkeypatch.setenv("TEXTFLOW_RETRY_DELAY_SECONDS", "5")
    quick = build_pipeline_dag(ROOT, GpuExecution.from_env())
    assert {(task.retry_delay.total_seconds(), task.retry_exponential_backoff) for task in quick.tasks} == {(5, 2.0)}


def test_a_stage_a_distributed_task_should_have_restored_refuses_to_run(tmp_path):
    """With TEXTFLOW_STAGES_TO_RUN set (a distributed task), DVC running any other stage means its outputs never
    reached the remote: the stage fails at once, naming itself and what to check, instead of redoing the work."""
    env = tool_env({STAGES_TO_RUN_ENV: "train,local_files"})
    command = [sys.executable, "-m", "pipelines.stages.local_files", "--out", str(tmp_path / "files.json")]
    assert subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=120).returncode == 0
    command = [
        sys.executable,
        "-m",
        "pipelines.stages.register",
        "--run",
        "missing.json",
        "--model",
        "m.pt",
        "--out",
        "x.json",
    ]
    refused = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert "restores stage register from the DVC remote" in refused.stderr and "dvc push --run-cache" in refused.stderr


def test_a_container_task_with_a_malformed_spec_says_what_is_wrong(tmp_path):
    command = [sys.executable, "-m", "pipelines.orchestration.run_task", "train", "--spec", '{"run_id": "x"}']
    result = subprocess.run(command, cwd=tmp_path, env=tool_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "the spec lacks commit, overrides" in result.stderr


@pytest.mark.parametrize("path", ["docker/.env", "/proc/self/environ", "~/.aws/credentials", "../../etc/passwd"])
def test_a_conf_cannot_name_a_file_outside_the_data_root(path):
    """Anyone allowed to trigger a DAG may send dataset.local.*; none of these may reach the worker's files."""
    conf = {"task": "language_model", "dataset.name": "local", "dataset.local.format": "plain_text"}
    if path.startswith(("/", "~", "..")):
        with pytest.raises(ConfigError, match=r"^DAG run conf: 'dataset.local.train' is .*absolute paths, '~' and"):
            overrides_from_conf(conf | {"dataset.local.train": path}, COMMITTED)
    else:  # relative: allowed as a name, but read inside the data root, where there is no docker/.env
        overrides = overrides_from_conf(conf | {"dataset.local.train": path}, COMMITTED)
        from pipelines.config import params_from_dict
        from pipelines.data.local_paths import local_files
        from pipelines.orchestration.form import merged_params

        params = params_from_dict(merged_params(COMMITTED, overrides))
        with pytest.raises(FileNotFoundError, match="is not a file in the data root"):
            local_files(params, root=ROOT / "data" / "local")


def test_a_symlink_out_of_the_data_root_is_refused(tmp_path):
    from pipelines.config import params_from_dict
    from pipelines.data.local_paths import local_files

    root = tmp_path / "data-root"
    root.mkdir()
    secret = tmp_path / "secret.env"
    secret.write_text("TOKEN=x\n")
    (root / "corpus.txt").symlink_to(secret)
    params = params_from_dict(
        {
            "task": "language_model",
            "dataset": {"name": "local", "local": {"train": "corpus.txt", "format": "plain_text"}},
        }
    )
    with pytest.raises(ConfigError, match="leads outside the data root"):
        local_files(params, root=root)


def test_the_sweep_hands_the_gate_the_combination_the_gate_would_rank_first(tmp_path):
    """Accuracy and macro-F1 can disagree; the sweep ranks on the gate's metric (register.metric), read from the
    evaluate stage's validation scores, not on the training's best validation accuracy."""
    from pipelines.orchestration.sweep import best_training, training_result

    results = []
    for index, (accuracy, macro_f1) in enumerate([(0.90, 0.70), (0.85, 0.84)]):
        space = tmp_path / f"combination-{index}"
        (space / "reports").mkdir(parents=True)
        (space / "params.yaml").write_text((ROOT / "params.yaml").read_text())
        (space / "reports" / "metrics.json").write_text(
            json.dumps({"valid": {"accuracy": accuracy, "macro_f1": macro_f1}, "test": {}})
        )
        (space / "reports" / "train.json").write_text(json.dumps({"objective": {"best": accuracy}}))
        (space / "reports" / "mlflow_run.json").write_text(json.dumps({"run_id": f"run-{index}"}))
        results.append(training_result(space, index, {"run_id": str(index), "commit": "c", "overrides": {}}))
    assert results[0]["metric"] == "validation_macro_f1"
    assert best_training(results)["run_id"] == "run-1"


def test_every_task_of_both_dags_retries_and_has_a_time_limit():
    from pipelines.orchestration.dags import build_sweep_dag

    for dag in (build_pipeline_dag(ROOT, GpuExecution()), build_sweep_dag(ROOT, GpuExecution())):
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag.dag_id}.{task.task_id} has no retries"
            assert task.execution_timeout is not None, f"{dag.dag_id}.{task.task_id} may hang forever"


def test_a_stage_that_refuses_its_input_fails_its_task_at_once_and_any_other_failure_is_retried(tmp_path):
    """Real DVC between them, as in a task: a stage exiting INPUT_ERROR_EXIT (an unknown key, a missing file)
    fails the task with AirflowFailException, which Airflow does not retry; any other failure stays an error
    Airflow retries (a blip of git, S3 or MLflow)."""
    from airflow.sdk.exceptions import AirflowFailException

    from pipelines.common.errors import INPUT_ERROR_EXIT, InputError
    from pipelines.orchestration.retries import fail_at_once_on_bad_input

    run(["git", "init", "-q"], tmp_path)
    run(["dvc", "init", "-q"], tmp_path)
    for stage, status in (("refuses", INPUT_ERROR_EXIT), ("blips", 1)):
        run(["dvc", "stage", "add", "-q", "-n", stage, f"{sys.executable} -c 'raise SystemExit({status})'"], tmp_path)

    @fail_at_once_on_bad_input
    def task(stage: str) -> None:
        workspace.run_command([sys.executable, "-m", "dvc", "repro", "--single-item", stage], tmp_path)

    with pytest.raises(AirflowFailException, match="not retried") as refused:
        task("refuses")
    assert isinstance(refused.value.__cause__, workspace.StageRefusedInput)
    assert refused.value.__cause__.output_tail, "the announcement quotes the stage's output"
    with pytest.raises(workspace.StageFailed) as blip:
        task("blips")
    assert not isinstance(blip.value, InputError)


def test_a_stage_waits_for_another_stage_of_its_run_instead_of_failing(project):
    """DVC itself gives up on its repo lock after about 3 s; a stage queued behind a longer one must wait."""
    space = workspace.prepare_workspace(project, "queued", {})
    began = threading.Event()
    holder_done = threading.Event()

    def hold() -> None:
        with workspace.workspace_lock(space):
            began.set()
            holder_done.wait(timeout=60)

    holder = threading.Thread(target=hold)
    holder.start()
    assert began.wait(timeout=30)
    finished: list[float] = []
    runner = threading.Thread(
        target=lambda: (workspace.run_stage(project, space, "local_files"), finished.append(time.monotonic()))
    )
    runner.start()
    time.sleep(6)
    assert not finished, "the second stage must wait for the lock, not run beside the first"
    released = time.monotonic()
    holder_done.set()
    runner.join(timeout=120)
    holder.join(timeout=10)
    assert finished and finished[0] >= released, "it ran once the first stage was done"
    assert (space / "data" / "local_files.json").exists()


def test_prune_never_removes_a_workspace_with_a_stage_running(project, monkeypatch):
    from pipelines.orchestration import runs

    busy, idle = (workspace.prepare_workspace(project, name, {}) for name in ("busy", "idle"))
    old = time.time() - 3 * 86400
    for space in (busy, idle):
        os.utime(space, (old, old))
    monkeypatch.chdir(project)
    with workspace.workspace_lock(busy):
        runs.main(["prune", "--keep", "0"])
    assert busy.exists(), "a training in progress keeps its workspace, however old the directory looks"
    assert not idle.exists()


def test_two_tasks_of_a_run_preparing_one_workspace_at_once_share_it(project):
    spaces: list[Path] = []
    errors = run_at_once(
        lambda _: spaces.append(workspace.prepare_workspace(project, "together", {"train.epochs": 3})), 3
    )
    assert not errors, errors
    assert len(set(spaces)) == 1 and (spaces[0] / "params.yaml").exists()


def test_run_ids_that_differ_only_in_punctuation_get_their_own_workspaces():
    names = {workspace.workspace_name(run_id) for run_id in ("manual__2026:01", "manual__2026+01", "manual__2026_01")}
    assert len(names) == 3
    assert workspace.workspace_name(".") not in (".", "..") and "/" not in workspace.workspace_name("a/b")


def test_a_git_token_never_reaches_argv_logs_or_the_clone(tmp_path):
    """An HTTPS TEXTFLOW_GIT_URL with user:token@ is redacted where shown and given to git through GIT_ASKPASS."""
    from pipelines.orchestration.distributed import RemoteSettings, credentials_removed, git_credentials

    url = "https://builder:s3cr3t-token@git.example.com/team/textflow.git"
    settings = RemoteSettings(remote="s3://bucket/dvc", git_url=url, checkpoints="s3://bucket/checkpoints")
    assert settings.shown_git_url == "https://git.example.com/team/textflow.git"
    assert credentials_removed("/opt/textflow") == ("/opt/textflow", None, None)
    with git_credentials(url) as (bare, environment):
        assert "s3cr3t" not in bare
        askpass = [environment["GIT_ASKPASS"], "Password for 'https://git.example.com':"]
        answer = subprocess.run(askpass, env=os.environ | environment, capture_output=True, text=True, timeout=10)
        assert answer.stdout == "s3cr3t-token\n"
        user = subprocess.run(
            [askpass[0], "Username for 'https://git.example.com':"],
            env=os.environ | environment,
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert user.stdout == "builder\n"


def test_a_lock_committed_elsewhere_does_not_stop_another_worker_restoring_what_this_run_pushed(
    tmp_path, monkeypatch, mirror
):
    """The committed dvc.lock was made on a laptop; a worker's image writes other bytes for one stage (another
    Python, another GPU). A second worker must restore that stage as this DAG run's first worker pushed it, not
    look for the laptop's bytes in the remote and, not finding them, run the stage again."""
    project = copy_project(tmp_path / "project", {"dataset": {"demo": {"train_size": 300, "test_size": 100}}})
    upstream = stages_before(project / "dvc.yaml", "embed")
    run([sys.executable, "-m", "dvc", "repro", "--single-item", *upstream], project)
    lock = (project / "dvc.lock").read_text()
    tokens = yaml.safe_load(lock)["stages"]["tokenize"]["outs"][0]
    assert tokens["path"] == "data/tokens"
    (project / "dvc.lock").write_text(lock.replace(tokens["md5"], "0" * 32 + ".dir"))
    run(["git", "add", "dvc.lock"], project)
    commit = _commit(project, "the laptop's lock: its tokens are bytes no worker makes")
    monkeypatch.setenv("TEXTFLOW_DVC_REMOTE", str(tmp_path / "remote"))
    monkeypatch.setenv("TEXTFLOW_GIT_URL", str(project))
    spec = {"run_id": "run-1", "commit": commit, "overrides": {}}

    def worker(name: str) -> Path:
        monkeypatch.setenv(workspace.RUNS_ENV, str(tmp_path / name))
        return workspace_for_spec(project, spec)

    first = worker("worker-1")
    for stage in upstream:
        workspace.run_stage(project, first, stage)
    second = worker("worker-2")
    workspace.run_stage(project, second, "embed")
    made = sorted(path.name for path in (first / "data" / "tokens").iterdir())
    assert made and all(
        (second / "data" / "tokens" / name).read_bytes() == (first / "data" / "tokens" / name).read_bytes()
        for name in made
    ), "worker 2 has worker 1's tokens"


def test_failures_are_announced_only_where_a_webhook_or_a_mail_address_is_configured(monkeypatch):
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    from pipelines.orchestration.notify import EMAIL_ENV, WEBHOOK_ENV

    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    monkeypatch.delenv(EMAIL_ENV, raising=False)
    assert not build_pipeline_dag(ROOT).get_task("train").on_failure_callback
    monkeypatch.setenv(WEBHOOK_ENV, "http://127.0.0.1:9/hook")
    for task in build_pipeline_dag(ROOT).tasks:
        assert len(task.on_failure_callback) == 1, f"{task.task_id} fails silently"
    monkeypatch.setenv(EMAIL_ENV, "ops@textflow.invalid, ml@textflow.invalid")
    for task in build_pipeline_dag(ROOT).tasks:
        webhook, mail = task.on_failure_callback
        assert isinstance(mail, SmtpNotifier) and mail.to == ["ops@textflow.invalid", "ml@textflow.invalid"]


def test_a_retrain_takes_the_model_the_latest_data_event_names_and_ignores_other_assets():
    import datetime

    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    from pipelines.orchestration.retrain import announced_model

    def event(uri: str, extra: dict) -> AssetEventDagRunReferenceResult:
        return AssetEventDagRunReferenceResult(
            asset={"name": uri, "uri": f"{uri}/", "extra": {}},
            extra=extra | {"from_rest_api": True},
            source_task_id=None,
            source_dag_id=None,
            source_run_id=None,
            source_map_index=None,
            source_aliases=[],
            timestamp=datetime.datetime.now(datetime.UTC),
        )

    events = [event("textflow://data", {"model": "old"}), event("textflow://data", {"model": "news"})]
    assert announced_model(TriggeringAssetEventsAccessor.build(events)) == "news"
    other = TriggeringAssetEventsAccessor.build([event("textflow://models/x", {"model": "nope"})])
    assert announced_model(other) is None and announced_model(None) is None


def test_an_airflow_run_id_becomes_a_dvc_experiment_name_git_accepts(tmp_path):
    from pipelines.orchestration.experiments import experiment_name

    name = experiment_name("manual__2026-12-06T05:55:00.123456+00:00")
    assert name == "manual__2026-12-06T05-55-00.123456-00-00"
    run(["git", "init", "-q"], tmp_path)
    assert run(["git", "check-ref-format", f"refs/exps/{name}"], tmp_path).returncode == 0


def test_the_mlflow_link_of_a_server_with_credentials_in_its_uri_shows_no_credentials(monkeypatch):
    from pipelines.orchestration.links import MLFLOW_UI_ENV, mlflow_ui_base

    monkeypatch.delenv(MLFLOW_UI_ENV, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://admin:s3cret@mlflow.example.com:8443/mlflow/")
    assert mlflow_ui_base() == "https://mlflow.example.com:8443/mlflow"
    monkeypatch.setenv(MLFLOW_UI_ENV, "http://127.0.0.1:5001/")
    assert mlflow_ui_base() == "http://127.0.0.1:5001", "the UI address a user set wins"


def test_pushing_an_experiment_the_workspace_does_not_hold_names_it(tmp_path):
    from pipelines.orchestration.distributed import RemoteError, RemoteSettings, push_experiment

    run(["git", "init", "-q"], tmp_path)
    settings = RemoteSettings(remote="s3://bucket/dvc", git_url=str(tmp_path), checkpoints="s3://bucket/checkpoints")
    with pytest.raises(RemoteError, match=r"experiment run-1 is 0 refs in .* \(none\), not one"):
        push_experiment(settings, tmp_path, "run-1")
