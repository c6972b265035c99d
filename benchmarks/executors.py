"""The demo pipeline's wall time through Airflow, LocalExecutor and Celery, as ratios of plain ``dvc repro``.

    python -m benchmarks.executors [-S key=value ...] [--record]

One script, one machine, three runs of the same pipeline in fresh throw-away copies of the project:
``dvc repro`` (the baseline), a ``textflow_pipeline`` run through ``make airflow``'s LocalExecutor stack (one
git worktree, the project's DVC cache) and one through ``make cluster`` (CeleryExecutor, two workers, every
task cloning the commit and passing outputs through the DVC remote on S3, MLflow behind basic auth). Each DAG
run's time is its own start to end as Airflow records it; the per-task overhead is (DAG run - dvc repro) over
the number of tasks. Run it with the machine otherwise idle: two CPU-heavy processes distort every number.
``--record`` appends the table to ``benchmarks/results/executors.md``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.project_copy import copy_project
from benchmarks.report import EXECUTOR_RECORDS, rewrite_results_page
from benchmarks.task_phases import phase_table, run_phases
from pipelines.common.ports import free_port
from pipelines.config import parse_assignments
from pipelines.orchestration.airflow_rest import dag_api_url, finished_run, login, request, trigger, unpause
from pipelines.orchestration.cluster import running_cluster
from pipelines.orchestration.dags import PIPELINE_DAG_ID
from pipelines.orchestration.local_airflow import running_local_airflow

ROOT = Path(__file__).resolve().parents[1]
HEADER = """# A DAG run through Airflow vs plain dvc repro

`python -m benchmarks.executors --record`, machine otherwise idle. Each DAG run's time is Airflow's own start to
end; overhead per task = (DAG run - dvc repro) / tasks.
"""
DEADLINE_SECONDS = 1800
PHASES_DOC = "phases read from the task logs, `benchmarks/task_phases.py`"


def _environment(extra: dict[str, str]) -> dict[str, str]:
    """This interpreter's tools first on PATH, no tracking URI or project root of the user's."""
    drop = {"MLFLOW_TRACKING_URI", "TEXTFLOW_PROJECT_ROOT", "TEXTFLOW_DVC_REMOTE"}
    base = {key: value for key, value in os.environ.items() if key not in drop}
    return base | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"} | extra


def committed_copy(directory: Path, overrides: dict) -> Path:
    copy_project(directory, overrides)
    for command in (
        ["git", "add", "-A"],
        ["git", "-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-qm", "b"],
    ):
        subprocess.run(command, cwd=directory, check=True, capture_output=True, timeout=120)
    return directory


def time_dvc_repro(project: Path) -> float:
    env = _environment({"MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"})
    began = time.perf_counter()
    result = subprocess.run(["dvc", "repro"], cwd=project, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"dvc repro failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return time.perf_counter() - began


def _seconds(record: dict) -> float:
    start, end = (datetime.fromisoformat(record[key].replace("Z", "+00:00")) for key in ("start_date", "end_date"))
    return (end - start).total_seconds()


def time_dag_run(base: str, token: str | None) -> tuple[float, int, dict[str, float]]:
    """(the run's seconds as Airflow recorded them, its number of tasks, its seconds by phase) for one
    triggered run."""
    dag_url = dag_api_url(base, PIPELINE_DAG_ID)
    unpause(dag_url, token)
    run_id = trigger(dag_url, token, {})
    state, tasks = finished_run(dag_url, run_id, token, time.monotonic() + DEADLINE_SECONDS)
    if state != "success":
        raise SystemExit(f"the DAG run failed: {tasks}")
    return _seconds(request(f"{dag_url}/dagRuns/{run_id}", token)), len(tasks), run_phases(dag_url, run_id, token)


def measure(overrides: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="textflow-executors-") as scratch:
        scratch_path = Path(scratch)
        print("dvc repro ...", flush=True)
        baseline = time_dvc_repro(committed_copy(scratch_path / "repro", overrides))
        print(f"  {baseline:.1f} s\nLocalExecutor ...", flush=True)
        project = committed_copy(scratch_path / "local", overrides)
        (scratch_path / "airflow").mkdir()
        env = _environment({"MLFLOW_PORT": str(free_port())})
        with running_local_airflow(project, scratch_path / "airflow", free_port(), env) as base:
            local, tasks, local_phases = time_dag_run(
                base, login(base, scratch_path / "airflow" / "simple_auth_manager_passwords.json.generated")
            )
        print(f"  {local:.1f} s\nCeleryExecutor (make cluster) ...", flush=True)
        project = committed_copy(scratch_path / "celery", overrides)
        with running_cluster(project, scratch_path / "cluster") as cluster:
            token = login(
                cluster.airflow_url, cluster.home / "airflow" / "simple_auth_manager_passwords.json.generated"
            )
            celery, _, celery_phases = time_dag_run(cluster.airflow_url, token)
        print(f"  {celery:.1f} s", flush=True)
    return {
        "date": datetime.now().date().isoformat(),
        "overrides": overrides,
        "tasks": tasks,
        "dvc_repro_seconds": round(baseline, 1),
        "local_executor_seconds": round(local, 1),
        "celery_seconds": round(celery, 1),
        "local_executor_ratio": round(local / baseline, 2),
        "celery_ratio": round(celery / baseline, 2),
        "local_executor_overhead_per_task": round((local - baseline) / tasks, 1),
        "celery_overhead_per_task": round((celery - baseline) / tasks, 1),
        "phases": {"LocalExecutor": local_phases, "CeleryExecutor": celery_phases},
    }


def table(record: dict) -> str:
    rows = [
        ("`dvc repro`", record["dvc_repro_seconds"], 1.0, 0.0),
        (
            "LocalExecutor (`make airflow`)",
            record["local_executor_seconds"],
            record["local_executor_ratio"],
            record["local_executor_overhead_per_task"],
        ),
        (
            "CeleryExecutor (`make cluster`)",
            record["celery_seconds"],
            record["celery_ratio"],
            record["celery_overhead_per_task"],
        ),
    ]
    lines = ["| how | wall seconds | vs dvc repro | overhead per task (s) |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {how} | {seconds:.1f} | {ratio:.2f}x | {overhead:.1f} |" for how, seconds, ratio, overhead in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="params override key=value")
    parser.add_argument("--record", action="store_true", help=f"append to {EXECUTOR_RECORDS.relative_to(ROOT)}")
    args = parser.parse_args()
    record = measure(parse_assignments(args.overrides))
    breakdown = phase_table(record["phases"], record["tasks"])
    print(table(record), breakdown, sep="\n\n")
    if args.record:
        overrides = ", ".join(f"{key}={value}" for key, value in record["overrides"].items()) or "default params"
        section = f"\n### demo, {overrides}, {record['tasks']} tasks, {os.cpu_count()} cores ({record['date']})\n\n"
        section += f"{table(record)}\n\nWhere the DAG runs' seconds went ({PHASES_DOC}):\n\n{breakdown}\n"
        EXECUTOR_RECORDS.write_text((EXECUTOR_RECORDS.read_text() if EXECUTOR_RECORDS.exists() else HEADER) + section)
        rewrite_results_page()


if __name__ == "__main__":
    main()
