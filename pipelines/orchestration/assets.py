"""The register task's Airflow Asset event: ``textflow://models/<registered name>``, with the version, its alias
and its validation score as the event's extra, so a downstream DAG (batch scoring, deployment) can be scheduled
on a model (``schedule=[Asset("textflow://models/textflow-demo")]``) and read which version to take.

The registered name depends on the run's params (``register.model_name``, the dataset, the task), so the task
declares an alias (``textflow-models``) as its outlet and names the asset at run time, the way Airflow 3 takes
outlets it cannot know when the DAG is parsed. An event is emitted for every version registered, challenger
or champion; its ``alias`` says which, so a deployment DAG acts on ``champion`` only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MODEL_ALIAS = "textflow-models"
REGISTER_REPORT = "reports/register.json"


def model_asset_uri(name: str) -> str:
    return f"textflow://models/{name}"


def model_outlets() -> list[Any]:
    from airflow.sdk import AssetAlias

    return [AssetAlias(MODEL_ALIAS)]


def registration_report(workspace: Path) -> dict[str, Any]:
    """What the register stage wrote in ``workspace`` (``reports/register.json``)."""
    return json.loads((workspace / REGISTER_REPORT).read_text(encoding="utf-8"))


def registration_event(workspace: Path) -> tuple[str, dict[str, Any]] | None:
    """(asset URI, extra) of what the register stage wrote in ``workspace``; None when nothing was registered."""
    registration = registration_report(workspace)
    if not registration.get("registered"):
        return None
    extra = {key: registration[key] for key in ("version", "alias", "champion", "run_id")}
    extra |= {key: value for key, value in registration.items() if key.startswith("validation_")}
    return model_asset_uri(registration["name"]), extra


def announce_registration(workspace: Path, outlet_events: Any) -> None:
    event = registration_event(workspace)
    if event is None:
        return
    from airflow.sdk import Asset, AssetAlias

    uri, extra = event
    outlet_events[AssetAlias(MODEL_ALIAS)].add(Asset(uri), extra=extra)
