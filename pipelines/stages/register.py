"""Stage ``register``: register the run's raw-text model and move alias ``champion`` only when it beats the
current champion on the same validation data (see pipelines/tracking/gate.py); otherwise the new version becomes
``challenger``; with ``register.approval`` a move of ``champion`` waits for a person (the DAGs' approval step).
Each version gets a model card (pipelines/tracking/model_card.py) as its description and as
the run's ``model_card.md``."""

from __future__ import annotations

import logging

from pipelines import tracking
from pipelines.common.io import write_json
from pipelines.config import load_params
from pipelines.stages import stage_cli
from pipelines.tasks import get_task
from pipelines.tracking.approval import APPROVAL_TASK_ID
from pipelines.tracking.gate import CHAMPION, register_if_better
from pipelines.tracking.model_card import CARD_FILE, card_facts, publish_model_card, render_model_card

log = logging.getLogger("register")


def main(argv: list[str] | None = None) -> None:
    stage_cli("register", __doc__, ["run", "model", "out"], register, argv)


def register(args) -> None:
    params = load_params(args.params)
    run_id = tracking.existing_run_id(args.run)
    if run_id is None:
        write_json(args.out, {"registered": False, "reason": "tracking was off for this run"})
        log.info("nothing to register: tracking was off for this run")
        return
    selection = get_task(params).selection(params)
    decision = register_if_better(
        run_id,
        tracking.registered_name(params),
        selection.metric,
        selection.higher_is_better,
        approval=params.register.approval,
    )
    if "approval" in decision:
        decision["approval"]["hours"] = params.register.approval_hours
    from mlflow import MlflowClient

    client = MlflowClient()
    card = render_model_card(card_facts(client, run_id), decision, selection.metric, args.model.as_posix())
    publish_model_card(client, decision["name"], decision["version"], run_id, card)
    write_json(args.out, {"registered": True, "run_id": run_id, **decision, "model_card": CARD_FILE})
    log.info("%s v%d -> %s: %s", decision["name"], decision["version"], decision["alias"], decision["reason"])
    if "approval" in decision:
        log.info(
            "approve it in Airflow (task %s of the run), or move alias %s in the MLflow UI",
            APPROVAL_TASK_ID,
            CHAMPION,
        )


if __name__ == "__main__":
    main()
