"""The approval step of both DAGs (``approve_champion``, after ``register`` and the sweep's ``register_best``):
Airflow's human-in-the-loop ``ApprovalOperator`` asking a person to approve the champion move the register
stage proposed under ``register.approval`` (pipelines/tracking/approval.py says what each answer does).

Nothing is asked, and the task is skipped, when the register stage proposed nothing (approval off, or the new
version does not beat the champion). The request shows the proposed version beside the champion; the person
answers in the UI (Browse → Required Actions, or the task's page) or through REST
(``PATCH /api/v2/dags/<dag>/dagRuns/<run>/taskInstances/approve_champion/-1/hitlDetails``), with a reason.
In Airflow 3.3 a waiting task is ``awaiting_input``: it holds no worker slot, pool slot or triggerer. After
``register.approval_hours`` the scheduler answers with the default, Reject.

The answer is applied to the registry by the next task, ``apply_approval``, not by the step that asked: each
try of a human-in-the-loop task makes a new request, so a registry blip while applying would have the retry ask
the person again. The applying task is retried with the answer kept (its input is the asking step's return
value), and :func:`~pipelines.tracking.approval.apply_approval` is idempotent. Importing this module imports
Airflow: DAG files only.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import Param, task
from airflow.sdk.exceptions import AirflowSkipException

from pipelines import tracking
from pipelines.orchestration.links import mlflow_ui_base
from pipelines.tracking.approval import APPLY_TASK_ID, APPROVAL_TASK_ID, apply_approval, approval_request

log = logging.getLogger(__name__)
REASON = "reason"
PLACEHOLDER_TIMEOUT = timedelta(hours=48)
"""Replaced from the run's ``register.approval_hours`` when the request is made; set at all so that the DAGs'
``execution_timeout`` (the working time of every task) is not taken for the wait."""


class ChampionApproval(ApprovalOperator):
    """Approve or Reject the champion move that the task ``register_task_id`` proposed (its return value is
    the register stage's report)."""

    def __init__(self, *, register_task_id: str, **kwargs: Any) -> None:
        kwargs.pop("params", None)  # the DAG's form, handed to every task; the request's form is its own
        super().__init__(
            task_id=APPROVAL_TASK_ID,
            subject="Promote the new version to champion?",
            defaults=self.REJECT,
            response_timeout=PLACEHOLDER_TIMEOUT,
            params={
                REASON: Param(
                    None, type=["null", "string"], title="Why", description="optional; recorded on the model version"
                )
            },
            **kwargs,
        )
        self.register_task_id = register_task_id

    def registration(self, context: Any) -> dict[str, Any]:
        return context["ti"].xcom_pull(task_ids=self.register_task_id) or {}

    def execute(self, context: Any) -> Any:
        registration = self.registration(context)
        if "approval" not in registration:
            raise AirflowSkipException(
                f"no champion move to approve: {registration.get('reason', 'nothing registered')}"
            )
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=tracking.connect())
        self.subject, self.body = approval_request(client, registration, mlflow_ui_base())
        self.response_timeout = timedelta(hours=registration["approval"]["hours"])
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """The answer, as this task's return value, for ``apply_approval``. ApprovalOperator's own completion
        is not called: on Reject it skips the tasks after it, and a rejection is recorded too."""
        answer = HITLOperator.execute_complete(self, context, event)
        self.hitl_summary_extra["approved"] = answer["chosen_options"] == [self.APPROVE]
        return answer


def champion_approval(registration: Any) -> Any:
    """The approval step and ``apply_approval`` after the task whose return value (an XComArg) is the register
    stage's report; returns the applying task's XComArg."""
    asked = ChampionApproval(register_task_id=registration.operator.task_id)
    registration >> asked

    @task(task_id=APPLY_TASK_ID)
    def apply_answer(registration: dict[str, Any], answer: dict[str, Any], dag_run=None) -> dict[str, Any]:
        """Record the answer on the proposed version and, on Approve, move ``champion``; returns the outcome."""
        from mlflow import MlflowClient

        responder = answer.get("responded_by_user") or {}
        outcome = apply_approval(
            MlflowClient(tracking_uri=tracking.connect()),
            registration,
            approved=answer["chosen_options"] == [ChampionApproval.APPROVE],
            by=responder.get("name"),
            reason=str((answer.get("params_input") or {}).get(REASON) or ""),
            airflow_run=f"{dag_run.dag_id}/{dag_run.run_id}",
        )
        log.info(
            "%s: champion is %s%s",
            outcome["decision"],
            outcome["champion"],
            f" ({outcome['reason']})" if "reason" in outcome else "",
        )
        return outcome

    return apply_answer(registration, asked.output)
