"""README's screenshots (docs/*.png) from a real demo run, as a new user would see them.

    python scripts/docs_screenshots.py            # about 6 minutes on 2 cores; needs Debian's chromium, and
                                                  # `npm ci` in tests/browser for the Airflow pages

In a throw-away copy of the project (the committed files): ``make run``'s pipeline on the default demo, then
``dvc exp run -S model.type=bigru`` so the runs table has two models to compare; an MLflow server over that
store, and the ``scores`` view of its runs. Then ``make airflow``'s stack in another copy, a triggered
``textflow_pipeline`` run with the form's defaults, its grid and the trigger form. Every service is stopped when
the script ends.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.project_copy import copy_project  # noqa: E402
from pipelines.common.ports import free_port  # noqa: E402
from pipelines.orchestration.airflow_rest import finished_run, trigger, unpause  # noqa: E402
from pipelines.orchestration.dags import PIPELINE_DAG_ID  # noqa: E402
from pipelines.orchestration.form import FORM_SECTIONS  # noqa: E402
from pipelines.orchestration.local_airflow import running_local_airflow  # noqa: E402
from pipelines.tracking.store import SCORES_VIEW  # noqa: E402
from tests.conftest import chromium, wait_for  # noqa: E402

DOCS = ROOT / "docs"
BROWSER = ROOT / "tests" / "browser"


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    base = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    return base | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"} | (extra or {})


def committed_project(directory: Path) -> Path:
    project = copy_project(directory, {})
    for command in (
        ["git", "add", "-A"],
        ["git", "-c", "user.name=docs", "-c", "user.email=docs@textflow.invalid", "commit", "-qm", "docs"],
    ):
        subprocess.run(command, cwd=project, check=True, timeout=60)
    return project


def mlflow_runs(scratch: Path) -> None:
    project = committed_project(scratch / "mlflow-project")
    for command in (["dvc", "repro"], ["dvc", "exp", "run", "-S", "model.type=bigru"]):
        print(" ".join(command), "...", flush=True)
        subprocess.run(command, cwd=project, env=environment(), check=True, capture_output=True, timeout=3600)
    port = free_port()
    store = project / "mlruns"
    server = subprocess.Popen(
        ["mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}", "--artifacts-destination", str(store / "artifacts")],
        env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/health", server, 120)
        import mlflow

        experiment = mlflow.MlflowClient(f"http://127.0.0.1:{port}").get_experiment_by_name("textflow")
        url = f"http://127.0.0.1:{port}/#/experiments/{experiment.experiment_id}/runs?viewStateShareKey={SCORES_VIEW}"
        chromium(
            "--window-size=1400,900", f"--screenshot={DOCS / 'mlflow-runs.png'}", url, profile=scratch / "chromium"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def airflow_pages(scratch: Path) -> None:
    project = committed_project(scratch / "airflow-project")
    home = scratch / "airflow"
    home.mkdir()
    env = environment({"MLFLOW_PORT": str(free_port()), "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"})
    with running_local_airflow(project, home, free_port(), env, seconds=300) as base:
        token = None  # every user is an admin in make airflow's stack: no login
        dag_url = f"{base}/api/v2/dags/{PIPELINE_DAG_ID}"
        unpause(dag_url, token)
        print("a textflow_pipeline run with the form's defaults ...", flush=True)
        state, tasks = finished_run(dag_url, trigger(dag_url, token, {}), token, time.monotonic() + 1800)
        if state != "success":
            raise SystemExit(f"the DAG run failed: {tasks}")
        with tempfile.TemporaryDirectory() as shots:
            expected = {
                "tasks": list(tasks),
                "fields": [],
                "sections": [*FORM_SECTIONS, "Version"],
                "shown": "Data",
            }
            subprocess.run(
                ["node", str(BROWSER / "airflow_screenshots.js"), base, shots, json.dumps(expected)],
                check=True, capture_output=True, timeout=300,
            )  # fmt: skip
            for name in ("airflow-grid.png", "airflow-trigger-form.png"):
                shutil.copy(Path(shots) / name, DOCS / name)


def main() -> None:
    if not shutil.which("chromium"):
        raise SystemExit("Debian's chromium is needed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="textflow-docs-") as scratch:
        mlflow_runs(Path(scratch))
        if (BROWSER / "node_modules" / "playwright-core").exists():
            airflow_pages(Path(scratch))
        else:
            print("skipping the Airflow pages: run `npm ci` in tests/browser first", file=sys.stderr)
    print(f"screenshots written to {DOCS}")


if __name__ == "__main__":
    main()
