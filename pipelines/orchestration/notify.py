"""Failures announced: Airflow notifiers that post a failed task of any textflow DAG to a webhook
(``TEXTFLOW_FAILURE_WEBHOOK``) and mail it (``TEXTFLOW_FAILURE_EMAIL``), after its last try; nothing is sent,
and no callback is set, without them.

The webhook's body is JSON with a ``text`` line (what Slack, Mattermost and Teams incoming webhooks show) and
the fields a receiver may route on: DAG, run, task, try, the last lines of what the task printed, and a link
to the task's log in the Airflow UI (``[api] base_url``). The mail says the same: that line as its subject, the
lines and the link as its body, sent by the SMTP provider's ``SmtpNotifier`` through Airflow's ``smtp_default``
connection (``AIRFLOW_CONN_SMTP_DEFAULT``: server, credentials, ``from_email``).

They are the tasks' own failure callbacks, not the DAG's: Airflow 3 runs a DAG's callback in the dag-processor,
which has neither the task's error nor, on a Celery or Kubernetes cluster, its log; a task's callback runs
where the task ran, with both, and only once the retries are spent (a task that never ran because an upstream
one failed sends nothing, so a failed run is announced by the task that failed it). A receiver or mail server
that is down is logged in the task log and changes neither the task's outcome nor the other announcement.
"""

from __future__ import annotations

import html
import json
import logging
import os
import urllib.request
from typing import Any

from pipelines.orchestration.workspace import OUTPUT_TAIL_LINES

WEBHOOK_ENV = "TEXTFLOW_FAILURE_WEBHOOK"
EMAIL_ENV = "TEXTFLOW_FAILURE_EMAIL"
"""Comma-separated addresses."""
log = logging.getLogger(__name__)


def failure_message(context: dict[str, Any]) -> dict[str, Any]:
    ti = context["ti"]
    error = context.get("exception")
    output = getattr(error, "output_tail", None) or getattr(getattr(error, "__cause__", None), "output_tail", None)
    tail = list(output or str(error or "").splitlines())[-OUTPUT_TAIL_LINES:]
    summary = f"textflow: {ti.dag_id} run {ti.run_id} failed at task {ti.task_id} (try {ti.try_number})"
    return {
        "text": f"{summary}: {ti.log_url}",
        "summary": summary,
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "try_number": ti.try_number,
        "log_tail": tail,
        "url": ti.log_url,
    }


def failure_email(message: dict[str, Any]) -> tuple[str, str]:
    """(subject, HTML body) of a :func:`failure_message`."""
    lines = html.escape("\n".join(message["log_tail"]))
    url = html.escape(message["url"], quote=True)
    body = f'<p>{html.escape(message["summary"])}</p><pre>{lines}</pre><p><a href="{url}">The task\'s log</a></p>'
    return message["summary"], body


def post_json(url: str, body: dict[str, Any], timeout: float = 15) -> None:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


def failure_callbacks() -> dict[str, Any]:
    """``default_args`` for every DAG: ``on_failure_callback`` with a notifier per configured channel, else
    nothing."""
    callbacks = []
    if url := os.environ.get(WEBHOOK_ENV):
        callbacks.append(_webhook_notifier(url))
    if addresses := [address.strip() for address in os.environ.get(EMAIL_ENV, "").split(",") if address.strip()]:
        callbacks.append(_email_notifier(addresses))
    return {"on_failure_callback": callbacks} if callbacks else {}


def _webhook_notifier(url: str) -> Any:
    from airflow.sdk import BaseNotifier

    class FailureWebhookNotifier(BaseNotifier):
        def notify(self, context: Any) -> None:
            try:
                post_json(url, failure_message(context))
            except OSError as error:
                log.warning("the failure webhook did not take the announcement: %s", error)

    return FailureWebhookNotifier()


def _email_notifier(addresses: list[str]) -> Any:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    class FailureEmailNotifier(SmtpNotifier):
        """Subject and body are set here, after Airflow rendered the templates: a log line holding ``{{`` is
        mailed as it is."""

        def notify(self, context: Any) -> None:
            self.subject, self.html_content = failure_email(failure_message(context))
            try:
                super().notify(context)
            except Exception as error:  # smtplib's OSErrors, the hook's AirflowException for a missing connection
                log.warning("the failure email was not sent (Airflow connection %s): %s", self.smtp_conn_id, error)

    return FailureEmailNotifier(to=addresses)
