"""Where a DAG run's seconds go, read back from Airflow after the run: its task instances and their logs.

Each task's time from Airflow's start to end is cut at lines every task log has (Airflow's own, DVC's, the
stage's), so the phases need no timing code in the tasks themselves:

- ``task start-up``: the task process starts and parses the DAG file (up to Airflow's "Worker startup parse
  complete");
- ``workspace, DVC start-up and restores``: from there to the first ``Running stage`` line DVC prints (building
  or locking the run's workspace, DVC loading the repo, fetching the run-cache and restoring upstream outputs);
- ``the task's own stage``: from ``Running stage '<its stage>'`` to DVC's next line of its own (the next stage,
  ``Updating lock file``);
- ``other stages run again``: stages DVC runs although the task did not ask for them (``always_changed`` ones);
- ``lock, push, task end``: from the last stage to the end Airflow recorded (DVC writing its lock, the push to
  the remote of a distributed run, Airflow's XCom and state update);
- ``between tasks``: the DAG run's wall time when no task ran (scheduler loop, queueing, Celery delivery).

Tasks that run at once (evaluate and keywords) each count in full, so the phases may add up to more than the
DAG run's wall time, which the table gives last.

``prepare_workspace`` runs no stage: its time after start-up is counted as workspace.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections import defaultdict
from datetime import datetime

from pipelines.orchestration.airflow_rest import request, task_log

PHASES = (
    "task start-up",
    "workspace, DVC start-up and restores",
    "the task's own stage",
    "other stages run again",
    "lock, push, task end",
    "between tasks",
)
RUNNING_STAGE = re.compile(r"^Running stage '([^']+)'")
DVC_STAGE_END = ("Updating lock file", "Stage '", "Use `dvc push`")
PARSE_DONE = "Worker startup parse complete"


def _time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def phases_of_task(task_id: str, start: float, end: float, events: list[tuple[float, str]]) -> dict[str, float]:
    """Seconds of each phase (but ``between tasks``) of one task, from its ``(timestamp, message)`` log lines."""
    parsed = next((stamp for stamp, message in events if message.startswith(PARSE_DONE)), start)
    spent = dict.fromkeys(PHASES[:-1], 0.0)
    spent["task start-up"] = parsed - start
    boundaries = []  # (when, the stage DVC started then, or None for DVC's other lines of its own)
    for stamp, message in events:
        if stamp < parsed:
            continue
        if match := RUNNING_STAGE.match(message):
            boundaries.append((stamp, match.group(1)))
        elif message.startswith(DVC_STAGE_END):
            boundaries.append((stamp, None))
    if not any(stage is not None for _, stage in boundaries):
        spent["workspace, DVC start-up and restores"] = end - parsed
        return spent
    intervals = list(zip(boundaries, [stamp for stamp, _ in boundaries[1:]] + [end], strict=True))
    last_stage = max(index for index, ((_, stage), _) in enumerate(intervals) if stage is not None)
    spent["workspace, DVC start-up and restores"] = boundaries[0][0] - parsed
    for index, ((stamp, stage), until) in enumerate(intervals):
        if stage is not None:
            key = "the task's own stage" if stage == task_id else "other stages run again"
        elif index < last_stage:
            key = "workspace, DVC start-up and restores"  # restoring upstream stages between two that ran
        else:
            key = "lock, push, task end"
        spent[key] += until - stamp
    return spent


def run_phases(dag_url: str, run_id: str, token: str | None) -> dict[str, float]:
    """Seconds of each phase summed over the run's tasks, ``between tasks`` and the ``DAG run``'s wall time, for
    one finished DAG run."""
    run_url = f"{dag_url}/dagRuns/{urllib.parse.quote(run_id)}"
    run = request(run_url, token)
    tasks = request(f"{run_url}/taskInstances", token)["task_instances"]
    totals: dict[str, float] = defaultdict(float)
    spans = []
    for task in tasks:
        content = json.loads(task_log(dag_url, run_id, task["task_id"], token, task["try_number"]))["content"]
        events = [(_time(entry["timestamp"]), str(entry["event"])) for entry in content if "timestamp" in entry]
        start, end = _time(task["start_date"]), _time(task["end_date"])
        spans.append((start, end))
        for phase, seconds in phases_of_task(task["task_id"], start, end, events).items():
            totals[phase] += seconds
    wall = _time(run["end_date"]) - _time(run["start_date"])
    totals["between tasks"] = wall - covered_seconds(spans)
    return {phase: round(totals[phase], 1) for phase in PHASES} | {"DAG run": round(wall, 1)}


def covered_seconds(spans: list[tuple[float, float]]) -> float:
    """Seconds inside at least one of the (start, end) spans: tasks that ran at once count once."""
    covered, reached = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reached:
            covered += end - max(start, reached)
            reached = end
    return covered


def phase_table(runs: dict[str, dict[str, float]], tasks: int) -> str:
    """Markdown: one column per executor, seconds in all and per task."""
    names = list(runs)
    lines = [
        "| phase | " + " | ".join(f"{name} s (per task)" for name in names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]
    for phase in PHASES:
        cells = [f"{runs[name][phase]:.1f} ({runs[name][phase] / tasks:.1f})" for name in names]
        lines.append(f"| {phase} | " + " | ".join(cells) + " |")
    lines.append("| DAG run (wall) | " + " | ".join(f"{runs[name]['DAG run']:.1f}" for name in names) + " |")
    return "\n".join(lines)
