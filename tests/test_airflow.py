"""The Airflow DAGs: they import, mirror dvc.yaml, route training per execution mode, and run end to end."""

from __future__ import annotations

import contextlib
import dataclasses
import email
import email.message
import email.policy
import html
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pipelines.config import ConfigError
from pipelines.orchestration.airflow_rest import answer_until_taken, awaiting_input, dag_api_url, task_url, trigger
from pipelines.orchestration.airflow_rest import finished_run as _finished_run
from pipelines.orchestration.airflow_rest import request as _request
from pipelines.orchestration.airflow_rest import task_log as _task_log
from pipelines.orchestration.airflow_rest import unpause as _unpause
from pipelines.orchestration.dags import (
    PIPELINE_DAG_ID,
    SAVE_EXPERIMENT_TASK,
    SWEEP_DAG_ID,
    build_pipeline_dag,
    build_sweep_dag,
)
from pipelines.orchestration.form import COMMIT_KEY, FORM_KEYS, FORM_SECTIONS, overrides_from_conf
from pipelines.orchestration.gpu import GpuExecution
from pipelines.orchestration.local_airflow import running_local_airflow
from pipelines.orchestration.notify import EMAIL_ENV, WEBHOOK_ENV
from pipelines.tracking.approval import APPLY_TASK_ID, APPROVAL_TASK_ID, TIMED_OUT
from tests.conftest import (
    ROOT,
    STAGES,
    assert_shows_content,
    captured_log,
    copy_project,
    free_port,
    kill_on_output,
    run,
    stop,
    tool_env,
    wait_healthy,
)

SCREENSHOTS = ROOT / "test-artifacts"

SMALL = {
    "dataset": {"demo": {"train_size": 600, "test_size": 200}},
    "embed": {"dim": 16, "epochs": 1},
    "model": {"embedding_dim": 16, "textcnn": {"num_filters": 8}},
    "train": {"epochs": 2},
    "tracking": {"data_docs": False},  # as SMALL_PIPELINE's: no test here looks at the site
}


@pytest.fixture(scope="module")
def migrated_airflow_home(tmp_path_factory) -> Path:
    """An Airflow home whose SQLite metadata database is migrated: each ``dag.test`` run starts from a copy
    instead of migrating its own (tens of seconds on a busy machine)."""
    home = tmp_path_factory.mktemp("migrated-airflow")
    run(["airflow", "db", "migrate"], ROOT, env=tool_env({"AIRFLOW_HOME": str(home)}), timeout=300)
    return home


def run_dag_test(tmp_path: Path, migrated_home: Path, dag_file: str, conf: dict) -> tuple[Path, str]:
    """A project copy with SMALL params, a copy of the migrated Airflow home, and ``dag.test(run_conf=conf)``
    of ``dag_file`` in a subprocess; returns the project and the run's output."""
    project = copy_project(tmp_path / "project", SMALL)
    shutil.copytree(migrated_home, tmp_path / "airflow")
    env = tool_env(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
            "MLFLOW_TRACKING_URI": "",
        }
    )
    script = (
        "import runpy\n"
        f"dag = runpy.run_path({dag_file!r})['dag']\n"
        f"run = dag.test(run_conf={conf!r})\n"
        "print('DAG RUN STATE', run.state)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )
    output = result.stdout + result.stderr
    assert "DAG RUN STATE success" in output, output[-4000:]
    return project, output


def test_every_dag_file_imports_without_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert {PIPELINE_DAG_ID, SWEEP_DAG_ID} <= set(bag.dag_ids)


def test_task_graph_equals_the_dvc_stage_graph():
    dot = run(["dvc", "dag", "--dot"], ROOT).stdout
    dvc_edges = {tuple(edge) for edge in re.findall(r'"?(\w+)"?\s*->\s*"?(\w+)"?', dot)}
    dag = build_pipeline_dag(ROOT, GpuExecution())
    dag_edges = {
        (upstream, task_id)
        for task_id, task in dag.task_dict.items()
        for upstream in task.upstream_task_ids
        if upstream != "prepare_workspace"
    }
    assert set(dag.task_dict) == {"prepare_workspace", *STAGES, APPROVAL_TASK_ID, APPLY_TASK_ID, SAVE_EXPERIMENT_TASK}
    last = {stage for stage in STAGES if not any(edge[0] == stage for edge in dvc_edges)}
    approval = {("register", APPROVAL_TASK_ID), ("register", APPLY_TASK_ID), (APPROVAL_TASK_ID, APPLY_TASK_ID)}
    assert dag_edges == dvc_edges | approval | {(stage, SAVE_EXPERIMENT_TASK) for stage in last}


@pytest.mark.parametrize("mode", ["local", "celery", "kubernetes", "docker"])
def test_training_task_carries_gpu_routing_for_each_execution_mode(mode):
    execution = GpuExecution(mode=mode, gpus=2, pool="gpu")
    train = build_pipeline_dag(ROOT, execution).get_task("train")
    assert train.pool == "gpu" and train.retries == 2 and train.execution_timeout.total_seconds() == 6 * 3600
    assert (train.queue == "gpu") is (mode == "celery")
    if mode == "kubernetes":
        assert type(train).__name__ == "KubernetesPodOperator"
        assert train.container_resources.limits == {"nvidia.com/gpu": "2"}
    elif mode == "docker":
        assert type(train).__name__ == "DockerOperator"
        assert train.device_requests[0]["Count"] == 2 and train.device_requests[0]["Capabilities"] == [["gpu"]]
    else:
        assert type(train).__name__ == "_PythonDecoratedOperator"
    sweep = build_sweep_dag(ROOT, execution)
    for training in (sweep.get_task("train_0"), sweep.get_task("refit_best")):
        assert training.pool == "gpu" and (training.queue == "gpu") is (mode == "celery"), training.task_id


@pytest.mark.parametrize("mode", ["kubernetes", "docker"])
def test_a_container_training_gets_the_run_spec_and_settings_but_no_secret_in_its_spec(mode, monkeypatch):
    """The pod or container rebuilds the workspace from (commit, overrides): it gets the spec through a template
    and the tracking URI and remote forwarded; credentials go through a Kubernetes secret or the Docker API's
    private environment, never into the rendered task (which Airflow shows and logs)."""
    settings = {"MLFLOW_TRACKING_URI": "http://mlflow:5000", "TEXTFLOW_DVC_REMOTE": "s3://bucket/dvc"}
    secrets = {"MLFLOW_TRACKING_PASSWORD": "not-for-logs", "AWS_SECRET_ACCESS_KEY": "not-for-logs-either"}
    for name, value in {**settings, **secrets}.items():
        monkeypatch.setenv(name, value)
    train = build_pipeline_dag(ROOT, GpuExecution(mode=mode)).get_task("train")
    if mode == "kubernetes":
        command, environment = [*train.cmds, *train.arguments], dict(train.env_vars)
        assert train.env_from[0].secret_ref.name == "textflow-credentials"
    else:
        command, environment = train.command, train.environment
        assert train._private_environment == secrets  # the operator keeps it out of its templated fields
    assert command[:4] == ["python", "-m", "pipelines.orchestration.run_task", "train"]
    assert "xcom_pull(task_ids='prepare_workspace')" in command[-1]
    assert settings.items() <= environment.items()
    assert not set(secrets) & set(environment)


def test_trigger_form_offers_exactly_what_the_config_accepts():
    params = build_pipeline_dag(ROOT, GpuExecution()).params
    assert params.get_param("model.type").schema["enum"] == [
        "fasttext",
        "textcnn",
        "bigru",
        "bilstm",
        "charcnn",
        "nb_ngrams",
        "tfidf_linear",
    ]
    assert params.get_param("dataset.train_on").schema["enum"] == ["sentences", "phrases"]
    epochs = params.get_param("train.epochs")
    assert (epochs.schema["minimum"], epochs.schema["maximum"], epochs.value) == (1, 1000, 15)
    assert params.get_param("dataset.name").value == "demo"
    committed = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert overrides_from_conf({"model.type": "bigru", "train.epochs": 15}, committed) == {"model.type": "bigru"}
    with pytest.raises(ConfigError, match="unknown key 'model.typo'"):
        overrides_from_conf({"model.typo": 1}, committed)
    with pytest.raises(ConfigError, match="'train.epochs' is 0"):
        overrides_from_conf({"train.epochs": 0}, committed)


@pytest.mark.slow
def test_dag_test_runs_the_pipeline_end_to_end(tmp_path, migrated_airflow_home):
    conf = {"model.type": "bigru", "train.epochs": 3, "train.learning_rate": 0.01}
    project, output = run_dag_test(tmp_path, migrated_airflow_home, "dags/textflow_pipeline.py", conf)
    assert all(f"Running stage '{stage}'" in output for stage in STAGES)

    workspaces = [path for path in (project / ".runs").iterdir() if path.is_dir()]  # beside them: stage locks
    assert len(workspaces) == 1 and (workspaces[0] / "models" / "model.pt").exists()
    assert not (workspaces[0] / "mlruns" / "mlflow.db").exists(), "workspaces log to the project's one store"
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    latest = client.search_runs([client.get_experiment_by_name("textflow").experiment_id])[0]
    assert latest.data.params["model.type"] == "bigru"
    assert latest.data.tags["airflow.dag_id"] == PIPELINE_DAG_ID and latest.data.tags["airflow.run_id"]
    assert client.get_model_version_by_alias("textflow-demo", "champion").run_id == latest.info.run_id
    register = json.loads((workspaces[0] / "reports" / "register.json").read_text())
    assert register["alias"] == "champion"
    assert Path(workspaces[0] / "params.yaml").read_text().count("type: bigru") == 1


@pytest.mark.slow
def test_two_rest_triggered_runs_at_once_both_succeed_with_their_own_params(tmp_path):
    """`make airflow` exactly as a user starts it (no MLFLOW_TRACKING_URI: it puts an `mlflow server` in front
    of the project's store); two runs with different conf triggered at once through REST API v2."""
    project = copy_project(tmp_path / "project", SMALL)
    _run_two_at_once(project, free_port(), tmp_path / "airflow")


@contextlib.contextmanager
def stock_airflow(project: Path, home: Path, port: int, extra_env: dict[str, str] | None = None):
    """Airflow as `airflow standalone` or the official compose start it: no `gpu` pool, no textflow variables,
    only the settings any Airflow 3 needs (DESIGN.md); every visitor is admin."""
    home.mkdir()
    env = tool_env(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "MLFLOW_TRACKING_URI": "",
        }
        | (extra_env or {})
    )
    for name in ("TEXTFLOW_GPU_POOL", "TEXTFLOW_TRAINING_SLOTS", "TEXTFLOW_PROJECT_ROOT"):
        env.pop(name, None)
    run(["airflow", "db", "migrate"], project, env=env, timeout=300)
    commands = [
        ["airflow", "api-server", "--host", "127.0.0.1", "--port", str(port)],
        ["airflow", "scheduler"],
        ["airflow", "dag-processor"],
    ]
    processes = []
    try:
        for command in commands:
            log = open(home / f"{command[1]}.log", "w")  # noqa: SIM115 - closed with the process below
            processes.append((subprocess.Popen(command, cwd=project, env=env, stdout=log, stderr=log), log))
        wait_healthy(f"http://127.0.0.1:{port}/api/v2/monitor/health", processes[0][0], 180)
        yield f"http://127.0.0.1:{port}"
    finally:
        for process, log in processes:
            stop(process)
            log.close()


@dataclasses.dataclass
class StockAirflow:
    project: Path
    base: str
    announcements: list[dict]
    """What the failure webhook received (JSON bodies), in order."""
    mails: list[tuple[list[str], email.message.EmailMessage]]
    """What the mail server received: (envelope recipients, message), in order."""
    head_starts: dict[str, str] = dataclasses.field(default_factory=dict)
    """The runs of :data:`HEAD_STARTS`, triggered as the stack came up: {name: DAG run id}."""
    succeeded: str | None = None

    def dag_url_of(self, dag_id: str) -> str:
        return dag_api_url(self.base, dag_id)

    @property
    def dag_url(self) -> str:
        """The pipeline DAG's, which most tests here trigger."""
        return self.dag_url_of(PIPELINE_DAG_ID)

    def a_successful_run(self) -> str:
        """The head start with the committed params, once it has succeeded: for tests that need a run, not their
        own conf."""
        if self.succeeded is None:
            _wait_for_run(self.dag_url, self.head_starts["default"], None, time.monotonic() + 600)
            self.succeeded = self.head_starts["default"]
        return self.succeeded


# Several tests start from a run that needs nothing of an earlier test: the stack triggers those as soon as it is
# up, and each test waits for its own. A DAG run is mostly task start-up and scheduling, so on two cores the runs
# overlap, instead of each test paying its first run's minute in turn. {name: (DAG id, conf)}
APPROVAL_MODEL = "textflow-approval"
SWEEP_APPROVAL_MODEL = "textflow-approval-sweep"
RETRAIN_MODEL = "textflow-retrain"
RETRAIN_FILES = {"train": "retrain-train.txt", "valid": "retrain-valid.txt", "test": "retrain-test.txt"}
HEAD_STARTS: dict[str, tuple[str, dict]] = {
    "default": (PIPELINE_DAG_ID, {}),
    "approval baseline": (PIPELINE_DAG_ID, {"register.model_name": APPROVAL_MODEL, "train.epochs": 1}),
    "retrain baseline": (
        PIPELINE_DAG_ID,
        {"dataset.name": "local", "register.model_name": RETRAIN_MODEL, "train.epochs": 3}
        | {f"dataset.local.{split}": file for split, file in RETRAIN_FILES.items()},
    ),
    "sweep approval": (
        SWEEP_DAG_ID,
        {
            "mode": "grid",
            "grid": {"model.type": ["fasttext"]},
            "register.approval": True,
            "register.approval_hours": 0.01,
            "register.model_name": SWEEP_APPROVAL_MODEL,
        },
    ),
}


@pytest.fixture(scope="module")
def stock(tmp_path_factory):
    """One stock Airflow for the module's tests that need no settings of their own: each triggers its own runs,
    or waits for its :data:`HEAD_STARTS` run. The dag-processor re-parses an unchanged DAG file every 10 minutes
    instead of 30 s (7% of a core here, for files no test changes)."""
    home = tmp_path_factory.mktemp("stock")
    project = copy_project(home / "project", SMALL)
    _write_retrain_data(project / "data" / "local")
    with webhook_receiver() as (webhook, received), mail_receiver() as (smtp_port, mails):
        smtp = {  # Airflow's smtp_default connection, as AIRFLOW_CONN_SMTP_DEFAULT sets it (no TLS on loopback)
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": smtp_port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@textflow.invalid"},
        }
        announce = {
            WEBHOOK_ENV: webhook,
            EMAIL_ENV: "team@textflow.invalid",
            "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp),
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        }
        with stock_airflow(project, home / "airflow", free_port(), announce) as base:
            started = StockAirflow(project, base, received, mails)
            for dag_id in (PIPELINE_DAG_ID, SWEEP_DAG_ID):
                _unpause(started.dag_url_of(dag_id), None)
            for name, (dag_id, conf) in HEAD_STARTS.items():
                started.head_starts[name] = trigger(started.dag_url_of(dag_id), None, conf)
            yield started


@contextlib.contextmanager
def webhook_receiver():
    """An HTTP server on loopback that keeps every JSON body POSTed to it: (its URL, the bodies)."""
    import http.server
    import threading

    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def mail_receiver():
    """A mail server on loopback (aiosmtpd) that keeps every message sent to it: (its port, the messages)."""
    from aiosmtpd.controller import Controller

    received: list[tuple[list[str], email.message.EmailMessage]] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            received.append((list(envelope.rcpt_tos), message))
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, received
    finally:
        controller.stop()


@pytest.mark.slow
def test_a_registered_model_is_an_asset_event_a_downstream_dag_can_be_scheduled_on(stock):
    import urllib.parse

    from pipelines.orchestration.workspace import workspace_path

    run_id = stock.a_successful_run()
    query = urllib.parse.urlencode({"source_dag_id": PIPELINE_DAG_ID, "source_run_id": run_id})
    events = _request(f"{stock.base}/api/v2/assets/events?{query}", None)["asset_events"]
    registration = json.loads((workspace_path(stock.project, run_id) / "reports/register.json").read_text())
    (event,) = events
    assert event["uri"] == f"textflow://models/{registration['name']}" and event["source_task_id"] == "register"
    assert event["extra"] == {
        "version": registration["version"],
        "alias": registration["alias"],
        "champion": registration["champion"],
        "run_id": registration["run_id"],
        "validation_macro_f1": registration["validation_macro_f1"],
    }


@pytest.mark.slow
def test_a_failed_task_is_announced_to_the_webhook_and_by_mail_once_with_its_log_tail(stock):
    import urllib.parse

    conf = {"task": "language_model", "dataset.name": "local", "dataset.local.format": "plain_text"}
    failing = _request(
        f"{stock.dag_url}/dagRuns",
        None,
        "POST",
        {"logical_date": None, "conf": conf | {"dataset.local.train": "none.txt"}},
    )["dag_run_id"]
    state, tasks = _finished_run(stock.dag_url, failing, None, time.monotonic() + 600)
    assert state == "failed" and tasks["local_files"] == "failed" and tasks["train"] == "upstream_failed"
    deadline = time.monotonic() + 60
    while not [body for body in stock.announcements if body["run_id"] == failing] and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(3)  # a second announcement (a retry, a downstream task) would arrive now
    (announced,) = [body for body in stock.announcements if body["run_id"] == failing]
    assert announced["dag_id"] == PIPELINE_DAG_ID and announced["task_id"] == "local_files"
    assert announced["try_number"] == 1, "a missing file fails at once: no retry can fix it"
    assert any("is not a file in the data root" in line for line in announced["log_tail"]), announced
    assert f"/dags/{PIPELINE_DAG_ID}/runs/{urllib.parse.quote(failing)}/tasks/local_files" in announced["url"]
    assert announced["summary"] == f"textflow: {PIPELINE_DAG_ID} run {failing} failed at task local_files (try 1)"
    assert announced["text"] == f"{announced['summary']}: {announced['url']}"
    (mail,) = [message for _, message in stock.mails if failing in message["Subject"]]
    assert [to for to, message in stock.mails if message is mail] == [["team@textflow.invalid"]]
    assert mail["Subject"] == announced["summary"] and mail["From"] == "airflow@textflow.invalid"
    body = mail.get_body(("html",)).get_content()
    assert "is not a file in the data root" in body and announced["url"] in html.unescape(body)


@pytest.mark.slow
def test_a_stock_airflow_applies_every_conf_key_and_fails_a_bad_one_by_name(stock):
    project, dag_url = stock.project, stock.dag_url
    good_conf = {"train.weight_decay": 0.01, "train.epochs": 2}
    good = _request(f"{dag_url}/dagRuns", None, "POST", {"logical_date": None, "conf": good_conf})["dag_run_id"]
    bad_conf = {"train.wieght_decay": 0.01}
    bad = _request(f"{dag_url}/dagRuns", None, "POST", {"logical_date": None, "conf": bad_conf})["dag_run_id"]
    # R3: whoever may trigger a run must not read the worker's files through dataset.local.*
    (project / "docker" / ".env").write_text("POSTGRES_PASSWORD=never-in-a-log\n")
    local = {"task": "language_model", "dataset.name": "local", "dataset.local.format": "plain_text"}
    reads = {
        path: _request(
            f"{dag_url}/dagRuns", None, "POST",
            {"logical_date": None, "conf": local | {"dataset.local.train": path}},
        )["dag_run_id"]
        for path in ("/proc/self/environ", "docker/.env")
    }  # fmt: skip
    deadline = time.monotonic() + 600
    _wait_for_run(dag_url, good, None, deadline)
    state, tasks = _finished_run(dag_url, bad, None, deadline)
    assert state == "failed" and tasks["prepare_workspace"] == "failed" and tasks["train"] == "upstream_failed"
    assert _try_number(dag_url, bad, "prepare_workspace") == 1, "an unknown key is not retried"
    assert "unknown key 'train.wieght_decay'" in _task_log(dag_url, bad, "prepare_workspace", None)
    state, tasks = _finished_run(dag_url, reads["/proc/self/environ"], None, deadline)
    assert state == "failed" and tasks["prepare_workspace"] == "failed"
    refused = _task_log(dag_url, reads["/proc/self/environ"], "prepare_workspace", None)
    assert "'dataset.local.train' is '/proc/self/environ'" in refused and "absolute paths" in refused
    state, tasks = _finished_run(dag_url, reads["docker/.env"], None, deadline)
    assert state == "failed" and tasks["local_files"] == "failed" and tasks["train"] == "upstream_failed"
    refused = _task_log(dag_url, reads["docker/.env"], "local_files", None)
    assert "is not a file in the data root" in refused and "never-in-a-log" not in refused
    assert _try_number(dag_url, reads["docker/.env"], "local_files") == 1, "a missing file is not retried"
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("textflow").experiment_id])
    dag_runs = [run.data.tags["airflow.run_id"] for run in runs]
    assert dag_runs.count(good) == 1 and not set(dag_runs) & {bad, *reads.values()}, "a refused run logged nothing"
    (trained,) = (run for run in runs if run.data.tags["airflow.run_id"] == good)
    assert trained.data.params["train.weight_decay"] == "0.01" and trained.data.params["train.epochs"] == "2"


@pytest.mark.slow
def test_the_train_task_links_to_its_mlflow_run_and_the_run_back_to_it(stock):
    """Airflow -> MLflow: the train task's "MLflow run" extra link, as the REST API (and the UI's task page) shows
    it; MLflow -> Airflow: the run's airflow.* tags. The store is the project's own, so the link is `make ui`'s."""
    import urllib.parse

    import mlflow

    run_id = stock.a_successful_run()
    links = _request(f"{stock.dag_url}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances/train/links", None)
    client = mlflow.MlflowClient(f"sqlite:///{stock.project / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("textflow").experiment_id
    (trained,) = client.search_runs([experiment], filter_string=f"tags.`airflow.run_id` = '{run_id}'")
    assert trained.data.tags["airflow.task_id"] == "train"
    assert not client.list_artifacts(trained.info.run_id, "data_docs"), "tracking.data_docs=false: no site"
    assert links["extra_links"] == {
        "MLflow run": f"http://127.0.0.1:5000/#/experiments/{experiment}/runs/{trained.info.run_id}"
    }


@pytest.mark.slow
def test_a_dag_run_is_a_dvc_experiment_that_exp_show_lists_and_exp_apply_restores(stock):
    """``dvc exp show`` in the project lists the DAG run beside local experiments, with the params and metrics
    of its workspace; ``dvc exp apply`` in a checkout of the project restores them and the model from the cache."""
    from pipelines.orchestration.experiments import experiment_name
    from pipelines.orchestration.workspace import workspace_path

    run_id = stock.a_successful_run()
    space = workspace_path(stock.project, run_id)
    name = experiment_name(run_id)
    saved = _saved_experiments(stock.project)
    assert name in saved, list(saved)
    data = saved[name]
    assert data["metrics"]["reports/metrics.json"]["data"] == json.loads((space / "reports/metrics.json").read_text())
    assert data["params"]["params.yaml"]["data"] == yaml.safe_load((space / "params.yaml").read_text())

    checkout = stock.project.parent / "exp-apply"
    run(["git", "worktree", "add", "--detach", str(checkout), "HEAD"], stock.project)
    try:
        run(["dvc", "config", "--local", "cache.dir", str(stock.project / ".dvc" / "cache")], checkout)
        run(["dvc", "exp", "apply", name], checkout)
        for path in ("params.yaml", "reports/metrics.json", "models/model.pt"):
            assert (checkout / path).read_bytes() == (space / path).read_bytes(), path
    finally:
        run(["git", "worktree", "remove", "--force", str(checkout)], stock.project)


def _saved_experiments(project: Path) -> dict[str, dict]:
    """``dvc exp show --json --all-commits`` in ``project``: {experiment name: its params and metrics}."""
    shown = json.loads(run(["dvc", "exp", "show", "--json", "--all-commits"], project).stdout)
    return {
        revs["name"]: revs["data"]
        for entry in shown
        for experiment in entry["experiments"] or []
        for revs in experiment["revs"]
    }


def _labelled_lines(count: int, seed: int, noisy: bool = False) -> str:
    """``label text`` lines of two classes with their own words; ``noisy``: labels drawn at random."""
    import random

    generator = random.Random(seed)
    words = {"sport": "match goal team score coach league", "money": "bank stock price market trade profit"}
    lines = []
    for _ in range(count):
        label = generator.choice(sorted(words))
        text = " ".join(generator.choices(words[label].split(), k=6))
        lines.append(f"{generator.choice(sorted(words)) if noisy else label} {text}\n")
    return "".join(lines)


def _write_retrain_data(data: Path) -> None:
    """The retrain baseline's files: validation and test splits of two cleanly separated classes, a small
    training split with labels drawn at random (a weak champion, which new clean data must beat)."""
    data.mkdir(parents=True, exist_ok=True)
    (data / RETRAIN_FILES["valid"]).write_text(_labelled_lines(80, seed=2))
    (data / RETRAIN_FILES["test"]).write_text(_labelled_lines(80, seed=3))
    (data / RETRAIN_FILES["train"]).write_text(_labelled_lines(60, seed=1, noisy=True))


@pytest.mark.slow
def test_new_data_announced_through_rest_retrains_once_with_the_champions_params_and_a_repeat_trains_nothing(stock):
    """textflow_retrain on the Asset textflow://data: one event through REST starts exactly one run, which
    trains the champion's recipe on the new data and registers it; announcing the same data again starts a run
    that trains nothing and registers nothing."""
    import mlflow

    from pipelines.orchestration.retrain import DATA_ASSET_URI, MODEL_KEY, RETRAIN_DAG_ID

    client = mlflow.MlflowClient(f"sqlite:///{stock.project / 'mlruns' / 'mlflow.db'}")
    name, data = RETRAIN_MODEL, stock.project / "data" / "local"
    first = stock.head_starts["retrain baseline"]  # noisy labels in _write_retrain_data's training file
    assert _finished_run(stock.dag_url, first, None, time.monotonic() + 600)[0] == "success"
    assert int(client.get_model_version_by_alias(name, "champion").version) == 1

    retrain_url = stock.dag_url_of(RETRAIN_DAG_ID)
    _unpause(retrain_url, None)
    (asset,) = _request(f"{stock.base}/api/v2/assets?uri_pattern={DATA_ASSET_URI}", None)["assets"]
    (data / RETRAIN_FILES["train"]).write_text(_labelled_lines(400, seed=4))

    def announce() -> tuple[str, dict[str, str]]:
        """Post an event; the one retrain run it starts, once finished, and its task states."""
        before = {run["dag_run_id"] for run in _request(f"{retrain_url}/dagRuns", None)["dag_runs"]}
        body = {"asset_id": asset["id"], "extra": {MODEL_KEY: name}}
        _request(f"{stock.base}/api/v2/assets/events", None, "POST", body)
        deadline = time.monotonic() + 120
        while not (
            started := [
                run for run in _request(f"{retrain_url}/dagRuns", None)["dag_runs"] if run["dag_run_id"] not in before
            ]
        ):
            assert time.monotonic() < deadline, "no retrain run started"
            time.sleep(3)
        state, tasks = _finished_run(retrain_url, started[0]["dag_run_id"], None, time.monotonic() + 600)
        assert state == "success", tasks
        time.sleep(5)  # a second run for the same event would have been created by now
        runs = [run for run in _request(f"{retrain_url}/dagRuns", None)["dag_runs"] if run["dag_run_id"] not in before]
        assert len(runs) == 1, runs
        return runs[0]["dag_run_id"], tasks

    _, retrained = announce()
    assert retrained["train"] == "success" and retrained["register"] == "success"
    versions = client.search_model_versions(f"name='{name}'")
    assert len(versions) == 2
    new = client.get_run(max(versions, key=lambda version: int(version.version)).run_id)
    assert new.data.params["dataset.local.train"] == RETRAIN_FILES["train"] and new.data.params["train.epochs"] == "3"

    repeated, tasks = announce()
    assert tasks["train"] in ("skipped", "success") and len(client.search_model_versions(f"name='{name}'")) == 2
    if tasks["train"] == "success":  # the champion is still v1: the run went through, every stage restored
        log = _task_log(retrain_url, repeated, "train", None)
        assert "Running stage 'train'" not in log, log[-2000:]


@pytest.mark.slow
def test_reproduce_through_the_dag_rebuilds_a_dag_run_identically(stock):
    """``python -m pipelines.reproduce <run> --dag URL``: a second DAG run at the run's commit with its params,
    every stage executed (none restored from DVC's run-cache), compared through the MLflow run it logged."""
    import mlflow

    original = stock.a_successful_run()
    client = mlflow.MlflowClient(f"sqlite:///{stock.project / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("textflow").experiment_id
    (trained,) = client.search_runs([experiment], filter_string=f"tags.`airflow.run_id` = '{original}'")
    command = [sys.executable, "-m", "pipelines.reproduce", trained.info.run_id, "--dag", stock.base]
    result = run(command, stock.project, check=False, timeout=900, env=tool_env({"MLFLOW_TRACKING_URI": ""}))
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert any(line.split()[:3] == ["identical", "train", "models/model.pt"] for line in lines), lines
    assert any(line.split()[:3] == ["identical", "evaluate", "reports/metrics.json"] for line in lines), lines
    assert not [line for line in lines if line.startswith(("DIFFERS", "changed"))], lines
    rebuild = re.search(r"triggered DAG run (\S+) ", result.stderr).group(1)
    for stage in ("download", "train"):
        task_log = _task_log(stock.dag_url, rebuild, stage, None)
        assert f"Running stage '{stage}'" in task_log and "is cached" not in task_log, task_log[-2000:]


BROWSER = ROOT / "tests" / "browser"
HAS_BROWSER = bool(
    shutil.which("chromium") and shutil.which("node") and (BROWSER / "node_modules" / "playwright-core").exists()
)


ANSWERED_RUN_SECONDS = 600
"""The bound on a run's end after its approval step is answered, as the module's other waits: 3-6 s alone here,
but one CI run (two test workers on two cores) was still running 120 s after Approve, for a reason its message
did not show (it cut the task list at 3,000 characters; ``finished_run`` now names each unfinished task)."""


def _answered_run(dag_url: str, run_id: str, option: str, reason: str) -> tuple[str, dict[str, str]]:
    """Answer the run's approval step and wait for the run; prints the tries answered (more than one: the step
    was retried and asked again)."""
    answered = answer_until_taken(
        dag_url, run_id, APPROVAL_TASK_ID, None, option, {"reason": reason}, time.monotonic() + ANSWERED_RUN_SECONDS
    )
    print(f"{option}: answered tries {answered}")
    return _finished_run(dag_url, run_id, None, time.monotonic() + ANSWERED_RUN_SECONDS)


@pytest.mark.slow
def test_a_champion_move_waits_for_a_person_and_moves_only_on_approve(stock):
    """register.approval through REST as a teammate's client answers it: a better version is proposed beside
    the champion; Reject leaves it challenger with who and why on it; a later one is proposed instead, and
    Approve moves champion to it. With the browser .ci/run installs, the waiting step's page is screenshot."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{stock.project / 'mlruns' / 'mlflow.db'}")
    name = APPROVAL_MODEL
    _, conf = HEAD_STARTS["approval baseline"]
    baseline = stock.head_starts["approval baseline"]
    assert _finished_run(stock.dag_url, baseline, None, time.monotonic() + 600)[0] == "success"
    assert int(client.get_model_version_by_alias(name, "champion").version) == 1, "approval off: the gate moves it"

    conf = conf | {"register.approval": True, "train.epochs": 6}
    first = trigger(stock.dag_url, None, conf)
    asked = awaiting_input(stock.dag_url, first, APPROVAL_TASK_ID, None, time.monotonic() + 600)
    assert asked["subject"] == f"Promote {name} v2 to champion?" and asked["options"] == ["Approve", "Reject"]
    assert "proposes **v2**" in asked["body"] and "| | proposed v2 | champion v1 |" in asked["body"]
    assert "| **validation_macro_f1** (the gate's) |" in asked["body"] and asked["defaults"] == ["Reject"]
    assert f"#/models/{name}/versions/2" in asked["body"] and f"#/models/{name}/versions/1" in asked["body"]
    with pytest.raises(
        TimeoutError,
        match=rf"still running; \d+ of \d+ tasks finished; waiting on: .*{APPROVAL_TASK_ID} awaiting_input \(try 1,",
    ):
        _finished_run(stock.dag_url, first, None, time.monotonic())
    if HAS_BROWSER:
        page = f"{stock.base}/dags/{PIPELINE_DAG_ID}/runs/{first}/tasks/{APPROVAL_TASK_ID}/required_actions"
        expected = [asked["subject"], "Approve", "Reject", "proposed v2", "champion v1"]
        SCREENSHOTS.mkdir(exist_ok=True)
        shot = SCREENSHOTS / "airflow-approval.png"
        command = ["node", str(BROWSER / "airflow_approval_screenshot.js"), page, str(shot), json.dumps(expected)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stderr[-2000:]
        assert json.loads(result.stdout.strip().splitlines()[-1])["shown"] == expected
        assert_shows_content(shot)
    state, tasks = _answered_run(stock.dag_url, first, "Reject", "too little data")
    assert state == "success" and tasks[APPROVAL_TASK_ID] == tasks[APPLY_TASK_ID] == "success", "Reject is applied"
    rejected = client.get_model_version(name, "2")
    assert rejected.aliases == ["challenger"] and rejected.tags["textflow.approval"] == "rejected"
    assert rejected.tags["textflow.approval.reason"] == "too little data"
    assert rejected.tags["textflow.approval.by"] != TIMED_OUT
    assert rejected.tags["textflow.approval.airflow_run"] == f"{PIPELINE_DAG_ID}/{first}"
    assert int(client.get_model_version_by_alias(name, "champion").version) == 1, "Reject moves nothing"

    second = trigger(stock.dag_url, None, conf | {"train.seed": 2})
    asked = awaiting_input(stock.dag_url, second, APPROVAL_TASK_ID, None, time.monotonic() + 600)
    assert asked["subject"] == f"Promote {name} v3 to champion?", "v2 was rejected: never proposed again"
    state, tasks = _answered_run(stock.dag_url, second, "Approve", "looks right")
    assert state == "success" and tasks[APPLY_TASK_ID] == "success"
    assert int(client.get_model_version_by_alias(name, "champion").version) == 3
    assert client.get_model_version(name, "3").tags["textflow.approval"] == "approved"


@pytest.mark.slow
def test_a_sweeps_best_waits_for_the_same_approval_and_an_unanswered_one_is_rejected_when_it_times_out(stock):
    """The sweep's register_best goes through the same step; nobody answers within register.approval_hours,
    and the step takes its documented default, Reject."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{stock.project / 'mlruns' / 'mlflow.db'}")
    name, sweep_url = SWEEP_APPROVAL_MODEL, stock.dag_url_of(SWEEP_DAG_ID)
    sweep = stock.head_starts["sweep approval"]
    state, tasks = _finished_run(sweep_url, sweep, None, time.monotonic() + 600)
    assert state == "success" and tasks["register_best"] == tasks[APPROVAL_TASK_ID] == tasks[APPLY_TASK_ID] == "success"
    asked = _request(f"{task_url(sweep_url, sweep, APPROVAL_TASK_ID)}/-1/hitlDetails", None)
    assert asked["subject"] == f"Promote {name} v1 to champion?" and asked["defaults"] == ["Reject"]
    assert asked["responded_by_user"] is None and asked["chosen_options"] == ["Reject"], "timed out: the default"
    version = client.get_model_version(name, "1")
    assert version.tags["textflow.approval"] == "rejected" and version.tags["textflow.approval.by"] == TIMED_OUT
    assert version.aliases == ["challenger"] and "champion" not in client.get_registered_model(name).aliases


@pytest.mark.slow
@pytest.mark.skipif(
    not HAS_BROWSER,
    reason="needs Debian's chromium, node and `npm install` in tests/browser (.ci/run does all three)",
)
def test_airflow_ui_grid_and_trigger_form_screenshots(stock):
    """Screenshots of the grid after a successful run and of the trigger form, as an admin session
    (SIMPLE_AUTH_MANAGER_ALL_ADMINS: this throw-away stack makes every visitor admin)."""
    stock.a_successful_run()
    SCREENSHOTS.mkdir(exist_ok=True)
    expected = {
        "tasks": ["prepare_workspace", *STAGES, APPROVAL_TASK_ID, APPLY_TASK_ID, SAVE_EXPERIMENT_TASK],
        "fields": [*FORM_KEYS, COMMIT_KEY],
        "sections": [*FORM_SECTIONS, "Version"],
        "shown": "Data",
    }
    result = subprocess.run(
        ["node", str(BROWSER / "airflow_screenshots.js"), stock.base, str(SCREENSHOTS), json.dumps(expected)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["grid_tasks"] == expected["tasks"], "every task is visible in the grid"
    assert seen["form_fields"] == expected["fields"], "every form field, the commit included, is in the form"
    for name in ("airflow-grid.png", "airflow-trigger-form.png"):
        assert_shows_content(SCREENSHOTS / name)


def airflow_stack(project: Path, home: Path, port: int, extra_env: dict[str, str]):
    """`make airflow`'s script (api-server, scheduler, dag-processor, triggerer) on a free loopback port."""
    return running_local_airflow(project, home, port, tool_env(extra_env))


def _try_number(dag_url: str, run_id: str, task_id: str) -> int:
    import urllib.parse

    return _request(f"{dag_url}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances/{task_id}", None)["try_number"]


def _wait_for_run(dag_url: str, run_id: str, token: str | None, deadline: float) -> None:
    state, tasks = _finished_run(dag_url, run_id, token, deadline)
    assert state == "success", tasks
    succeeded = {task for task, task_state in tasks.items() if task_state == "success"}
    assert succeeded == {"prepare_workspace", *STAGES, SAVE_EXPERIMENT_TASK}


def _run_two_at_once(project: Path, port: int, home: Path) -> None:
    defaults = {
        "MLFLOW_TRACKING_URI": "",
        "MLFLOW_PORT": str(free_port()),
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",  # as the stock fixture's: files no test changes
    }
    with airflow_stack(project, home, port, defaults) as base:
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        token = _request(f"{base}/auth/token", method="POST", body={"username": "admin", "password": password})[
            "access_token"
        ]
        dag_url = dag_api_url(base, PIPELINE_DAG_ID)
        _unpause(dag_url, token)
        confs = {  # a classifier and a language model: the second task through the same DAG, form keys as conf
            "classification": {"model.type": "fasttext", "train.epochs": 3, "train.learning_rate": 0.01},
            "language_model": {
                "task": "language_model",
                "train.epochs": 2,
                "train.learning_rate": 0.01,
                "language_model.hidden_size": 32,
                "language_model.num_layers": 1,
            },
        }
        run_ids = {
            task: _request(f"{dag_url}/dagRuns", token, "POST", {"logical_date": None, "conf": conf})["dag_run_id"]
            for task, conf in confs.items()
        }
        deadline = time.monotonic() + 600
        for run_id in run_ids.values():
            _wait_for_run(dag_url, run_id, token, deadline)
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("textflow").experiment_id])
    by_dag_run = {run.data.tags["airflow.run_id"]: run for run in runs}
    assert set(by_dag_run) == set(run_ids.values())
    for task, run_id in run_ids.items():
        assert by_dag_run[run_id].data.params["task"] == task
    assert by_dag_run[run_ids["classification"]].data.params["model.type"] == "fasttext"
    assert "validation_perplexity" in by_dag_run[run_ids["language_model"]].data.metrics
    import torch

    workspaces = sorted(path for path in (project / ".runs").iterdir() if path.is_dir())
    assert len(workspaces) == 2, "each DAG run works in its own workspace"
    trained = {torch.load(ws / "models" / "model.pt", weights_only=True)["task"] for ws in workspaces}
    assert trained == set(run_ids), "the two runs' outputs did not clobber each other"
    for name, task in (("textflow-demo", "classification"), ("textflow-demo-lm", "language_model")):
        (version,) = client.search_model_versions(f"name='{name}'")
        champion = client.get_model_version_by_alias(name, "champion")
        assert champion.version == version.version and champion.run_id == by_dag_run[run_ids[task]].info.run_id


@pytest.mark.slow
def test_killed_train_task_retried_in_its_workspace_resumes_from_its_checkpoint(tmp_path):
    """What an Airflow retry of ``train`` executes: the same stage in the same workspace after a SIGKILL."""

    from pipelines.orchestration import workspace

    small = {
        "dataset": {"demo": {"train_size": 900, "test_size": 200}},
        "embed": {"dim": 16, "epochs": 1},
        "model": {"embedding_dim": 32},
        "tracking": {"enabled": False},
    }
    project = copy_project(tmp_path / "project", small)
    overrides = {"train.epochs": 6, "train.patience": 10, "train.learning_rate": 0.01}
    space = workspace.prepare_workspace(project, "retry-test", overrides)
    for stage in ["local_files", "download", "validate", "clean", "tokenize", "embed"]:
        workspace.run_stage(project, space, stage)

    dvc_train = [sys.executable, "-m", "dvc", "repro", "--single-item", "train"]
    kill_on_output(dvc_train, space, workspace.stage_environment(project), "epoch 3/6")
    assert not (space / "models" / "model.pt").exists()

    with captured_log("pipelines.orchestration.workspace") as messages:
        workspace.run_stage(project, space, "train")
    retry_log = "\n".join(messages)
    assert re.search(r"resumed from checkpoint .* after epoch [2-5]", retry_log), retry_log[-3000:]
    assert (space / "models" / "model.pt").exists()


@pytest.mark.slow
def test_sweep_fans_out_trainings_under_one_parent_run_and_registers_the_best(tmp_path, migrated_airflow_home):
    """The grid varies the cleaning too: the stages before train run once with the committed params, and the
    first training with the other cleaning re-runs clean once, the second gets it from the run-cache."""
    grid = {"model.type": ["fasttext", "textcnn"], "clean.style": ["kim"]}
    project, output = run_dag_test(tmp_path, migrated_airflow_home, "dags/textflow_sweep.py", {"grid": grid})
    assert output.count("Running stage 'download'") == 1, "upstream stages run once, then come from the run-cache"
    assert output.count("Running stage 'clean'") == 2, "clean runs once per cleaning: committed, then kim"

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("textflow").experiment_id])
    parents = [run for run in runs if run.data.tags.get("textflow.sweep") == "parent"]
    assert len(parents) == 1
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert sorted(run.data.params["model.type"] for run in children) == ["fasttext", "textcnn"]
    assert {run.data.params["clean.style"] for run in children} == {"kim"}
    best = max(children, key=lambda run: run.data.metrics["best_valid_accuracy"])
    versions = client.search_model_versions("name='textflow-demo'")
    assert [version.run_id for version in versions] == [best.info.run_id]
    assert client.get_model_version_by_alias("textflow-demo", "champion").run_id == best.info.run_id

    experiments = _saved_experiments(project)  # each trial, named after the sweep's run and its index
    trials = {name: data for name, data in experiments.items() if re.fullmatch(r".+-[01]", name)}
    assert len(trials) == 2, list(experiments)
    model_types = {data["params"]["params.yaml"]["data"]["model"]["type"] for data in trials.values()}
    assert model_types == {"fasttext", "textcnn"}
    assert {data["params"]["params.yaml"]["data"]["clean"]["style"] for data in trials.values()} == {"kim"}
    scores = sorted(data["metrics"]["reports/metrics.json"]["data"]["valid"]["macro_f1"] for data in trials.values())
    assert scores == pytest.approx(sorted(run.data.metrics["validation_macro_f1"] for run in children))


@pytest.mark.slow
def test_sweep_search_mode_trains_rounds_proposed_from_earlier_trials_within_its_budget(
    tmp_path, migrated_airflow_home
):
    """A tiny budget (3 trials, 2 a round): round 0 proposes two trials, the first the run's own settings, round 1
    the one left, the later rounds are skipped, every trial is a child run with params inside search.spaces; the
    best trial's settings are then trained again as a seed ensemble of two, the best of the four on validation is
    registered, and the parent run shows the own settings' score beside the best."""
    conf = {"mode": "search", "search.trials": 3, "search.parallel": 2, "search.ensemble_size": 2}
    project, output = run_dag_test(tmp_path, migrated_airflow_home, "dags/textflow_sweep.py", conf)
    assert "round 2: nothing to train: the budget of 3 trials is spent" in output
    assert output.count("Running stage 'download'") == 1, "upstream stages run once, then come from the run-cache"

    import mlflow

    from pipelines.config import load_params

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("textflow").experiment_id])
    (parent,) = [run for run in runs if run.data.tags.get("textflow.sweep") == "parent"]
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    trials = [run for run in children if "textflow.search.trial" in run.data.tags]
    assert sorted(run.data.tags["textflow.search.trial"] for run in trials) == ["0", "1", "2"]
    space = load_params(project / "params.yaml").search.spaces
    dimensions = space["classifier"] | space["textcnn"]
    tried = set()
    for child in trials:
        values = {key: float(child.data.params[key]) for key in dimensions}
        tried.add(tuple(values.values()))
        for key, dimension in dimensions.items():
            if dimension.choices is not None:
                assert values[key] in dimension.choices, (key, values[key])
            else:
                assert dimension.low <= values[key] <= dimension.high, (key, values[key])
    assert len(tried) == 3, "every trial tried different params"
    assert mlflow.artifacts.load_dict(f"runs:/{parent.info.run_id}/sweep.json")["trials"] == 3
    results = mlflow.artifacts.load_dict(f"runs:/{parent.info.run_id}/sweep_results.json")
    assert results["metric"] == "validation_macro_f1"
    assert {row["run_id"] for row in results["trainings"]} == {run.info.run_id for run in children}
    by_index = sorted(results["trainings"], key=lambda row: row["index"])
    *by_trial, refit = by_index
    assert all(row["state"] == "complete" and len(row["intermediate"]) == 2 for row in by_trial)
    best_trial = max(by_trial, key=lambda row: (row["score"], -row["index"]))
    assert refit["refit"] is True and refit["index"] == 3
    assert refit["overrides"] == best_trial["overrides"] | {"train.ensemble_size": 2}
    (refit_run,) = [run for run in children if run.info.run_id == refit["run_id"]]
    assert refit_run.data.params["train.ensemble_size"] == "2"
    best = max(by_index, key=lambda row: (row["score"], -row["index"]))
    assert parent.data.tags["textflow.sweep.best_run_id"] == best["run_id"]
    (version,) = client.search_model_versions("name='textflow-demo'")
    assert version.run_id == best["run_id"]
    assert client.get_model_version_by_alias("textflow-demo", "champion").run_id == best["run_id"]
    metrics = client.get_run(parent.info.run_id).data.metrics
    assert metrics["best_validation_macro_f1"] == best["score"]
    assert [row["baseline"] for row in by_trial] == [True, False, False], "trial 0 is the run's own settings"
    committed = load_params(project / "params.yaml")
    assert by_trial[0]["overrides"]["train.learning_rate"] == committed.train.learning_rate
    assert by_trial[0]["overrides"]["model.dropout"] == committed.model.dropout
    assert metrics["baseline_validation_macro_f1"] == by_trial[0]["score"] <= best["score"]


def test_make_airflow_refuses_an_mlflow_server_it_did_not_start(tmp_path):
    """Something already answers /health on MLFLOW_PORT (another user's server, say): `make airflow` stops with
    one line saying how to use it on purpose, instead of sending this project's runs there."""
    import http.server
    import threading

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        env = tool_env({"MLFLOW_TRACKING_URI": "", "MLFLOW_PORT": str(port), "AIRFLOW_HOME": str(tmp_path / "home")})
        result = subprocess.run(
            ["scripts/airflow-local.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        server.shutdown()
    assert result.returncode == 1
    assert f"MLFLOW_TRACKING_URI=http://127.0.0.1:{port} make airflow" in result.stderr
    assert (tmp_path / "home").stat().st_mode & 0o777 == 0o700, "airflow_home holds secrets: owner only"


def test_parsing_the_dag_files_imports_no_torch_or_pandas():
    """Every task process and every dag-processor pass parses the DAG files: torch is 2.4 s and 200 MB of
    imports that none of them needs (measured: a parse 6.8 s and 321 MB with it, 3.9 s and 119 MB without),
    pandas another 0.33 s (textflow's share of the import 417 -> 82 ms without it)."""
    script = (
        "import runpy, sys\n"
        "for name in ('textflow_pipeline', 'textflow_sweep', 'textflow_retrain'):\n"
        "    runpy.run_path(f'dags/{name}.py')\n"
        "print(sorted(module for module in sys.modules if module.split('.')[0] in ('torch', 'pandas'))[:5])\n"
    )
    result = run([sys.executable, "-c", script], ROOT, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "[]"
