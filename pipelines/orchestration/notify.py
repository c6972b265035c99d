"""Failures announced: an Airflow notifier that posts a failed task of either DAG to a webhook
(``TEXTFLOW_FAILURE_WEBHOOK``), after its last try; nothing is sent, and no callback is set, without it.

The body is JSON with a ``text`` line (what Slack, Mattermost and Teams incoming webhooks show) and the fields a
receiver may route on: DAG, run, task, try, the last lines of what the task printed, and a link to the task's
log in the Airflow UI (``[api] base_url``). It is the tasks' own failure callback, not the DAG's: Airflow 3 runs a
DAG's callback in the dag-processor, which has neither the task's error nor, on a Celery or Kubernetes cluster,
its log; the task's callback runs where the task ran, with both, and only once the retries are spent (a task
that never ran because an upstream one failed sends nothing, so a failed run is announced by the task that
failed it). A receiver that is down is logged in the task log and does not change the task's outcome.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Any

from pipelines.orchestration.workspace import OUTPUT_TAIL_LINES

WEBHOOK_ENV = "TEXTFLOW_FAILURE_WEBHOOK"
log = logging.getLogger(__name__)


def failure_message(context: dict[str, Any]) -> dict[str, Any]:
    ti = context["ti"]
    error = context.get("exception")
    output = getattr(error, "output_tail", None) or getattr(getattr(error, "__cause__", None), "output_tail", None)
    tail = list(output or str(error or "").splitlines())[-OUTPUT_TAIL_LINES:]
    return {
        "text": f"textflow: {ti.dag_id} run {ti.run_id} failed at task {ti.task_id} (try {ti.try_number}): {ti.log_url}",
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "try_number": ti.try_number,
        "log_tail": tail,
        "url": ti.log_url,
    }


def post_json(url: str, body: dict[str, Any], timeout: float = 15) -> None:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


def failure_callbacks() -> dict[str, Any]:
    """``default_args`` for both DAGs: ``on_failure_callback`` when a webhook is configured, else nothing."""
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return {}
    from airflow.sdk import BaseNotifier

    class FailureWebhookNotifier(BaseNotifier):
        def notify(self, context: Any) -> None:
            try:
                post_json(url, failure_message(context))
            except OSError as error:
                log.warning("the failure webhook did not take the announcement: %s", error)

    return {"on_failure_callback": FailureWebhookNotifier()}
