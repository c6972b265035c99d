"""A person's decision on a proposed champion move (``register.approval``): what the approval step shows, and
what Approve or Reject does to the registry.

The register stage proposes (pipelines/tracking/gate.py); Airflow's approval step (pipelines/orchestration/
approval.py) shows :func:`approval_request`, and the task after it applies the answer with
:func:`apply_approval` (again, unchanged, when that task is retried). Approve moves ``champion`` to the proposed
version, unless the champion changed while the request waited and the proposed version no longer beats it (the
gate's own comparison decides, so an approval cannot install a worse model than a champion someone approved
meanwhile). Reject leaves the proposed version ``challenger``, and the gate never
proposes it again. Either way the version records who decided, why and in which Airflow run, as tags.
"""

from __future__ import annotations

from typing import Any

from pipelines.tracking.gate import (
    APPROVAL_TAG,
    CHALLENGER,
    CHAMPION,
    REJECTED,
    alias_version,
    choose_champion,
    scored_versions,
)
from pipelines.tracking.scores import VALID_DATA_HASH_TAG

APPROVAL_TASK_ID = "approve_champion"
"""The task of both DAGs that asks a person (``dvc repro`` has no such step: the alias is moved by hand)."""
APPLY_TASK_ID = "apply_approval"
"""The task after it that applies the answer with :func:`apply_approval`."""
APPROVED = "approved"
TIMED_OUT = "nobody: the approval step timed out"


def approval_request(client: Any, registration: dict[str, Any], ui_base: str) -> tuple[str, str]:
    """(subject, Markdown body): the proposed version beside the current champion, with their validation and
    test scores, per-class validation F1, validation data hash and links to both runs and model cards."""
    name, approval = registration["name"], registration["approval"]
    proposed, current = approval["proposed"], registration.get("champion")
    metric = approval["metric"]
    columns = [("proposed", proposed)] + ([("champion", current)] if current is not None else [])
    runs = {version: client.get_run(client.get_model_version(name, str(version)).run_id) for _, version in columns}
    test_metric = metric.replace("validation_", "test_", 1)
    per_class = sorted(
        {
            key
            for run in runs.values()
            for key in run.data.metrics
            if key.startswith("validation_") and key.endswith("_f1") and key != "validation_macro_f1"
        }
    )

    def row(label: str, value: Any) -> str:
        return f"| {label} | " + " | ".join(value(runs[version], version) for _, version in columns) + " |"

    def score(key: str) -> Any:
        return lambda run, _: f"{run.data.metrics[key]:.4f}" if key in run.data.metrics else "-"

    lines = [
        "| | " + " | ".join(f"{label} v{version}" for label, version in columns) + " |",
        "|---|" + "---|" * len(columns),
        row(f"**{metric}** (the gate's)", score(metric)),
        row(f"{test_metric} (reported only)", score(test_metric)),
        *(row(key.removeprefix("validation_").removesuffix("_f1") + " F1", score(key)) for key in per_class),
        row("validation data sha256", lambda run, _: f"`{run.data.tags.get(VALID_DATA_HASH_TAG, '-')[:12]}`"),
        row(
            "MLflow run",
            lambda run, _: (
                f"[{run.info.run_id[:8]}]({ui_base}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id})"
            ),
        ),
        row("model card", lambda _, version: f"[v{version}]({ui_base}/#/models/{name}/versions/{version})"),
    ]
    direction = "higher" if approval["higher_is_better"] else "lower"
    body = "\n".join(
        [
            f"The registry gate proposes **v{proposed}** of `{name}` as `{CHAMPION}`: {registration['reason']}.",
            "",
            *lines,
            "",
            f"{direction.capitalize()} {metric} is better. **Approve** moves `{CHAMPION}` to v{proposed}; "
            f"**Reject** leaves it `{CHALLENGER}` and the gate never proposes it again. Without an answer within "
            f"{approval['hours']:g} hours the step rejects.",
        ]
    )
    return f"Promote {name} v{proposed} to {CHAMPION}?", body


def apply_approval(
    client: Any, registration: dict[str, Any], approved: bool, by: str | None, reason: str, airflow_run: str
) -> dict[str, Any]:
    """Record the decision on the proposed version and, when approved, move ``champion`` to it (see the module
    docstring for a champion that changed meanwhile). Returns the outcome: ``decision``, ``champion``, and
    ``reason`` when the alias did not move although approved."""
    name, approval = registration["name"], registration["approval"]
    proposed = approval["proposed"]
    for key, value in {
        APPROVAL_TAG: APPROVED if approved else REJECTED,
        f"{APPROVAL_TAG}.by": by or TIMED_OUT,
        f"{APPROVAL_TAG}.reason": reason or "-",
        f"{APPROVAL_TAG}.airflow_run": airflow_run,
    }.items():
        client.set_model_version_tag(name, str(proposed), key, value)
    current = alias_version(client, name)
    if not approved:
        return {"decision": REJECTED, "champion": current}
    if current is not None and current != proposed:
        versions = {v.version: v for v in scored_versions(client, name, approval["metric"])}
        candidate, champion = versions[proposed], versions[current]
        decision = choose_champion(
            candidate, champion, [candidate, champion], approval["metric"], approval["higher_is_better"]
        )
        if decision.champion != proposed:
            return {"decision": APPROVED, "champion": current, "reason": f"not moved: {decision.reason}"}
    client.set_registered_model_alias(name, CHAMPION, str(proposed))
    if alias_version(client, name, CHALLENGER) == proposed:
        client.delete_registered_model_alias(name, CHALLENGER)
    return {"decision": APPROVED, "champion": proposed}
