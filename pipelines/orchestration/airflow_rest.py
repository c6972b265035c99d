"""Airflow's REST API v2, the few calls textflow's tests and benchmarks (and a script of yours) need: a token,
unpausing, triggering with conf, waiting for a run, task logs, answering an approval step. Every wait is
bounded."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path


def request(url: str, token: str | None = None, method: str = "GET", body: dict | None = None) -> dict:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=30) as response:
        return json.loads(response.read())


def dag_api_url(base: str, dag_id: str) -> str:
    """The REST v2 address of one DAG on the Airflow API server at ``base``: the ``dag_url`` the calls here take."""
    return f"{base}/api/v2/dags/{dag_id}"


def unpause(dag_url: str, token: str | None) -> None:
    deadline = time.monotonic() + 120
    while True:  # the dag-processor may not have parsed the file yet
        try:
            request(dag_url, token, "PATCH", {"is_paused": False})
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_url} did not appear within 120 s: is the DAG file parsed?") from None
            time.sleep(2)


FINISHED_TASK_STATES = ("success", "failed", "skipped", "upstream_failed", "removed")


def finished_run(dag_url: str, run_id: str, token: str | None, deadline: float) -> tuple[str, dict[str, str]]:
    """(run state, {task id: state}) once the run succeeded or failed; bounded by ``deadline``."""
    run_url = f"{dag_url}/dagRuns/{urllib.parse.quote(run_id)}"
    while (state := request(run_url, token)["state"]) not in ("success", "failed"):
        if time.monotonic() > deadline:
            tasks = request(f"{run_url}/taskInstances", token)["task_instances"]
            raise TimeoutError(f"run {run_id} still {state}; {unfinished_tasks(tasks)}")
        time.sleep(3)
    tasks = request(f"{run_url}/taskInstances", token)["task_instances"]
    return state, {task["task_id"]: task["state"] for task in tasks}


def unfinished_tasks(task_instances: list[dict]) -> str:
    """Which tasks a run still waits on, each with its state, try and the times the scheduler gave it (a task
    queued since long ago waits for a slot; one running since long ago is slow or stuck)."""
    waiting = [
        f"{_task_name(task)} {task['state'] or 'not scheduled'} (try {task['try_number']},"
        f" queued {task['queued_when'] or '-'}, started {task['start_date'] or '-'})"
        for task in task_instances
        if task["state"] not in FINISHED_TASK_STATES
    ]
    done = len(task_instances) - len(waiting)
    return f"{done} of {len(task_instances)} tasks finished; waiting on: {'; '.join(waiting) or 'none'}"


def _task_name(task: dict) -> str:
    return task["task_id"] if task["map_index"] < 0 else f"{task['task_id']}[{task['map_index']}]"


def task_log(dag_url: str, run_id: str, task_id: str, token: str | None, try_number: int = 1) -> str:
    run = urllib.parse.quote(run_id)
    url = f"{dag_url}/dagRuns/{run}/taskInstances/{task_id}/logs/{try_number}?full_content=true"
    return json.dumps(request(url, token))


def login(base: str, password_file: Path) -> str:
    """A bearer token for the simple auth manager's generated admin password."""
    password = json.loads(password_file.read_text())["admin"]
    return request(f"{base}/auth/token", method="POST", body={"username": "admin", "password": password})[
        "access_token"
    ]


def trigger(dag_url: str, token: str | None, conf: dict) -> str:
    return request(f"{dag_url}/dagRuns", token, "POST", {"logical_date": None, "conf": conf})["dag_run_id"]


def task_url(dag_url: str, run_id: str, task_id: str) -> str:
    return f"{dag_url}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances/{task_id}"


PAUSE_SETTLE_SECONDS = 5.0
"""How long after a task is seen waiting for an answer before :func:`awaiting_input` returns. Airflow 3.1 races an
answer given within about a second of the pause: the answer re-queues the task, the executor's report that the
paused process ended (same try, "success") reaches the scheduler after that, and the scheduler marks the task
up_for_retry ("task state changed externally"); the retry then asks again. Seen once in CI, answering at once."""


def awaiting_input(dag_url: str, run_id: str, task_id: str, token: str | None, deadline: float) -> dict:
    """The request a human-in-the-loop task shows (subject, body, options, ...) once it waits for an answer and
    still does :data:`PAUSE_SETTLE_SECONDS` later, so an answer sent at once is not lost; bounded by ``deadline``."""
    url = task_url(dag_url, run_id, task_id)
    while True:
        state = request(url, token)["state"]
        if state == "awaiting_input":
            time.sleep(PAUSE_SETTLE_SECONDS)
            if request(url, token)["state"] == "awaiting_input":
                return request(f"{url}/-1/hitlDetails", token)
        if state in FINISHED_TASK_STATES or time.monotonic() > deadline:
            raise TimeoutError(f"task {task_id} of run {run_id} is {state}, not waiting for an answer")
        time.sleep(3)


def answer(dag_url: str, run_id: str, task_id: str, token: str | None, option: str, params: dict | None = None) -> dict:
    """Answer a waiting human-in-the-loop task (``option``: Approve or Reject for an approval step) with its
    form's ``params`` (the approval step's ``reason``)."""
    body = {"chosen_options": [option], "params_input": params or {}}
    return request(f"{task_url(dag_url, run_id, task_id)}/-1/hitlDetails", token, "PATCH", body)


def answer_until_taken(
    dag_url: str, run_id: str, task_id: str, token: str | None, option: str, params: dict | None, deadline: float
) -> list[int]:
    """:func:`answer`, then wait until the task has finished with it; when a later try of the task asks again
    (Airflow keeps no answer across tries: a retry of the step asks anew), answer that try the same way. Returns
    the tries answered; bounded by ``deadline``."""
    url = task_url(dag_url, run_id, task_id)
    answered = [request(url, token)["try_number"]]
    answer(dag_url, run_id, task_id, token, option, params)
    while (task := request(url, token))["state"] not in FINISHED_TASK_STATES:
        if task["state"] == "awaiting_input" and task["try_number"] > answered[-1]:
            answered.append(task["try_number"])
            answer(dag_url, run_id, task_id, token, option, params)
        elif time.monotonic() > deadline:
            raise TimeoutError(
                f"task {task_id} of run {run_id} is {task['state']} (try {task['try_number']}) after answering "
                f"try {', '.join(map(str, answered))}"
            )
        time.sleep(3)
    return answered
