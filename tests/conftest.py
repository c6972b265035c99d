"""Shared fixtures: the project root, the shared dataset mirror, and small generated corpora."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from pipelines.common.ports import free_port  # noqa: F401 - the tests' ports, imported from here
from pipelines.common.processes import stop, wait_healthy  # noqa: F401 - wait_healthy: the tests' waits, from here

ROOT = Path(__file__).resolve().parents[1]
# `make test` runs the suite in pytest-xdist workers (PYTEST_XDIST_WORKER is gw0, gw1, ...; unset in a plain run).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
# Airflow reads AIRFLOW_HOME when first imported; keep tests away from ~/airflow and the example DAGs, and each
# worker away from another's metadata database (a worker inherits the controller's environment, hence no setdefault).
AIRFLOW_HOME = Path(tempfile.gettempdir()) / f"textflow-tests-airflow{WORKER}"
if WORKER:
    os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW_HOME", str(AIRFLOW_HOME))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
if WORKERS > 1:
    # Workers share the cores: a training takes its share (pipelines/training/device.py) and every other torch
    # process one thread, since torch's default of one thread per core collapses when processes contend.
    os.environ.setdefault("TEXTFLOW_CONCURRENT_TRAININGS", str(WORKERS))
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_collection_modifyitems(config, items):
    """Order for `make test`'s workers (``--dist loadscope --no-loadscope-reorder``: a module runs on one worker,
    so its module-scoped fixtures, one cluster or one reproduced project, are built once): the modules with the
    most end-to-end (``slow``) tests first, so the run does not end waiting on a long module that started last.
    A module's own tests keep their order, which some of them build on (test_cluster's later tests read the
    first one's DAG run). pytest-xdist's ``loadgroup`` would spread a module further, but with pytest 9.2 it
    groups nothing (xdist 3.8 renames ``item._nodeid``, which pytest 9.2 no longer reads)."""
    slow_tests: dict[str, int] = defaultdict(int)
    for item in items:
        slow_tests[item.module.__name__] += item.get_closest_marker("slow") is not None
    items.sort(key=lambda item: -slow_tests[item.module.__name__])


# The variables that steer where the pipeline reads and writes (TEXTFLOW_DATA_ROOT, TEXTFLOW_PROJECT_ROOT, ...).
STEERING_PREFIXES = ("TEXTFLOW_", "DVC_", "GIT_")


@pytest.fixture(autouse=True)
def environment_left_as_found():
    """A test that changes one of these variables in its worker process changes every later test there, which
    then fails far from the cause (a data root that is not the project's): monkeypatch undoes its own changes,
    a bare ``os.environ`` write does not, and this names the test that made it."""
    before = {key: value for key, value in os.environ.items() if key.startswith(STEERING_PREFIXES)}
    yield
    after = {key: value for key, value in os.environ.items() if key.startswith(STEERING_PREFIXES)}
    changed = sorted({key for key, _ in set(before.items()) ^ set(after.items())})
    assert not changed, f"this test left {changed} changed in the test process's environment"


_seconds_per_module: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    _seconds_per_module[report.nodeid.split("::")[0]] += report.duration


def pytest_terminal_summary(terminalreporter):
    """Seconds per module (set-up, call and tear-down), the slowest first: where the suite's time goes. With
    workers in parallel they add up to more than the run's wall clock."""
    if not _seconds_per_module:
        return
    terminalreporter.section("seconds per test module")
    for module, seconds in sorted(_seconds_per_module.items(), key=lambda entry: -entry[1]):
        terminalreporter.write_line(f"{seconds:8.1f} s  {module}")
    workers = getattr(terminalreporter.config.option, "numprocesses", None) or 1
    terminalreporter.write_line(f"{sum(_seconds_per_module.values()):8.1f} s  in all, over {workers} worker(s)")


MIRROR = Path(os.environ.get("TEXTFLOW_MIRROR", ROOT.parent / "shared" / "mirror"))


@pytest.fixture
def mirror(monkeypatch, tmp_path) -> Path:
    """The shared mirror of public datasets, with downloads cached in a per-test directory. These tests check
    real public files against the registry's checksums, so a missing mirror fails them: a skip would turn a
    missing fixture into a green run."""
    if not MIRROR.is_dir():
        pytest.fail(
            f"dataset mirror not found at {MIRROR}: set TEXTFLOW_MIRROR to a directory laid out as "
            "<host>/<path> of the registry's URLs (CI and `make test` use ../shared/mirror)"
        )
    monkeypatch.setenv("TEXTFLOW_MIRROR", str(MIRROR))
    monkeypatch.setenv("TEXTFLOW_CACHE", str(tmp_path / "download-cache"))
    return MIRROR


@pytest.fixture
def isolated_cache(monkeypatch, tmp_path) -> Path:
    cache = tmp_path / "download-cache"
    monkeypatch.setenv("TEXTFLOW_CACHE", str(cache))
    return cache


def merge(base: dict, update: dict) -> dict:
    """``base`` with ``update`` merged in, key by key, as a new dict: ``base`` is often a module constant
    (SMALL_PIPELINE) that later tests in the same worker read."""
    merged = dict(base)
    for key, value in update.items():
        merged[key] = merge(base.get(key, {}), value) if isinstance(value, dict) else value
    return merged


def write_params(project: Path, update: dict) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    (project / "params.yaml").write_text(yaml.safe_dump(merge(params, update), sort_keys=False))


def tool_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the project's command-line tools (dvc, mlflow) from this interpreter's venv."""
    # mlflow.set_tracking_uri() in a test process exports MLFLOW_TRACKING_URI; a tool must not inherit a server
    # that test already stopped, so the store is only what ``extra`` names.
    base = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    return base | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"} | (extra or {})


def run(command: list[str], cwd: Path, check: bool = True, timeout: float = 600, env: dict | None = None):
    result = subprocess.run(command, cwd=cwd, env=env or tool_env(), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def copy_project(project: Path, params_update: dict) -> Path:
    """A git repository holding the tracked project files (no dvc.lock), with ``params_update`` applied."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file() and name != "dvc.lock" and not name.startswith("reports/"):
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, project / name)
    write_params(project, params_update)
    run(["git", "init", "-q"], project)
    run(["git", "config", "user.name", "textflow tests"], project)
    run(["git", "config", "user.email", "tests@textflow.invalid"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "copy"], project)
    return project


@contextlib.contextmanager
def running_mlflow_server(home: Path):
    """A real ``mlflow server`` on a free loopback port with a SQLite backend and artifacts under ``home``."""
    port = free_port()
    command = [
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{home / 'mlflow.db'}",
        "--artifacts-destination",
        str(home / "artifacts"),
    ]
    with open(home / "server.log", "w") as log:
        process = subprocess.Popen(command, env=tool_env(), stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(f"http://127.0.0.1:{port}/health", process, 120)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)


def kill_on_output(command: list[str], cwd: Path, env: dict[str, str], marker: str, seconds: float = 300) -> None:
    """Run ``command`` in its own process group and SIGKILL the whole group as soon as a line of its output
    contains ``marker`` (or after ``seconds``): a crash in mid-work, children included."""
    import signal

    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    deadline = time.monotonic() + seconds
    for line in process.stdout:
        if marker in line or time.monotonic() > deadline:
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@contextlib.contextmanager
def captured_log(logger: str, level: int = 10):
    """The messages ``logger`` emits inside the block (Airflow reconfigures logging once imported, so
    pytest's caplog may see nothing); yields the list they are appended to."""
    import logging

    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    target = logging.getLogger(logger)
    handler, previous = Collect(level), target.level
    target.addHandler(handler)
    target.setLevel(level)
    try:
        yield messages
    finally:
        target.removeHandler(handler)
        target.setLevel(previous)


STAGES = [
    "local_files",
    "download",
    "validate",
    "clean",
    "tokenize",
    "embed",
    "train",
    "evaluate",
    "keywords",
    "register",
]
"""dvc.yaml's stages in order, written out so that a test notices a stage appearing or going missing."""

SMALL_PIPELINE = {
    "dataset": {"demo": {"train_size": 900, "test_size": 300}},
    "embed": {"dim": 32, "epochs": 2},
    "model": {"embedding_dim": 32, "textcnn": {"num_filters": 16}},
    "train": {"epochs": 4, "batch_size": 32, "learning_rate": 0.01},
    # the Data Docs site validates every split again in each evaluate stage (a GX import and a run, ~4 s of CPU):
    # only the tests that look at it (test_tracking, test_language_model) build it
    "tracking": {"data_docs": False},
}


@pytest.fixture(scope="session")
def reproduced_project(tmp_path_factory) -> Path:
    """A git + DVC copy of the project with small params (tracking into its own mlruns/), reproduced once per
    test run: the first worker to need it builds it in the run's temporary directory, which every worker shares,
    and the others wait for it. Shared by several test modules, so no test may change it: copy it with
    :func:`clone_project` first."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent if WORKER else tmp_path_factory.getbasetemp()
    project = shared / "reproduced-project"
    finished = project / "first-repro.log"  # written last; the store in mlruns/ holds absolute paths: built in place
    with FileLock(shared / "reproduced-project.lock", timeout=1800):
        if not finished.exists():
            shutil.rmtree(project, ignore_errors=True)  # what a failed attempt left
            project.mkdir()
            copy_project(project, SMALL_PIPELINE)
            result = run(["dvc", "repro"], project, env=tool_env({"MLFLOW_TRACKING_URI": ""}))
            finished.write_text(result.stdout + result.stderr)
    return project


def served_test_accuracy_matches_evaluate(project: Path, model_name: str) -> dict:
    """Load ``models:/<model_name>@champion`` from the project's own MLflow store, predict the raw test split
    and assert it gets exactly as many right as the evaluate stage did; the evaluate stage's test metrics."""
    import mlflow
    import pandas as pd

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model(f"models:/{model_name}@champion")
    test = pd.read_parquet(project / "data/validated/test.parquet")
    predicted = model.predict(pd.DataFrame({"text": test["text"]}))["label"].to_numpy()
    evaluated = json.loads((project / "reports/metrics.json").read_text())["test"]
    correct = int((predicted == test["label"].to_numpy()).sum())
    assert correct == round(evaluated["accuracy"] * evaluated["examples"]) and len(test) == evaluated["examples"]
    return evaluated


def clone_project(project: Path, destination: Path) -> Path:
    """A full copy (git history, DVC cache, outputs, MLflow store) that a test may change freely."""
    shutil.copytree(project, destination, symlinks=True)
    return destination


def assert_shows_content(png: Path) -> None:
    """A screenshot of a rendered page, not a blank or error-only one: many colours, and a real share of the
    pixels differ from the background colour."""
    import numpy as np
    from matplotlib import image

    pixels = (image.imread(png)[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    background_share = counts.max() / len(pixels)
    assert len(colours) > 200, f"{png.name}: only {len(colours)} colours; the page looks blank"
    assert background_share < 0.97, f"{png.name}: {background_share:.1%} of the pixels are background"


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
    ]
    return subprocess.run(["chromium", *flags, *arguments], capture_output=True, text=True, timeout=120)


def run_at_once(target, count: int, seconds: float = 300) -> list[BaseException]:
    """Run ``target(index)`` in ``count`` threads started together; the exceptions they raised."""
    import threading

    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as error:  # handed to the caller
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds)
    return errors
