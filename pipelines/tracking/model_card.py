"""A model card for each registered version: markdown, from what the run already holds, written by the register
stage into the version's description (the MLflow UI's model version page shows it) and into the run as
``model_card.md``.

Everything on the card is read back from MLflow (the run's params, metrics, tags and the report files evaluate
logged: ``reports/metrics.json``, ``reports/validation.json``, ``reports/dvc.lock``, a language model's
``reports/samples.txt``), so it describes the version as registered, whichever worker ran which stage. The card
is not a DVC output: it names the run, version and register time's decision, which a rerun of the same bytes
does not repeat.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.config import params_from_dict
from pipelines.config.pipeline import parse_lock
from pipelines.tracking.runs import logged_params
from pipelines.tracking.scores import DATA_DOCS_PATH, DATA_HASH_TAG, MODEL_URI_TAG, VALID_DATA_HASH_TAG

CARD_FILE = "model_card.md"
REPORTS = ("metrics.json", "validation.json", "dvc.lock", "samples.txt")
"""The report files (under the run's ``reports/``) a card reads; each is optional (a run logged without
evaluation has none): the Data and Results sections say when theirs is missing, the others leave its rows out."""
SPLITS = ("train", "valid", "test")


@dataclass
class CardFacts:
    """What a card says, gathered from one run."""

    run_id: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    duration_seconds: float | None
    reports: dict[str, str] = field(default_factory=dict)
    artifacts: set[str] = field(default_factory=set)


def card_facts(client: Any, run_id: str) -> CardFacts:
    """The run's params, metrics, tags, wall time and the report files a card quotes."""
    run = client.get_run(run_id)
    artifacts = {item.path for folder in ("reports", DATA_DOCS_PATH) for item in client.list_artifacts(run_id, folder)}
    reports = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in REPORTS:
            if f"reports/{name}" in artifacts:
                local = client.download_artifacts(run_id, f"reports/{name}", scratch)
                reports[name] = Path(local).read_text(encoding="utf-8")
    end, start = run.info.end_time, run.info.start_time
    return CardFacts(
        run_id=run_id,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        tags=dict(run.data.tags),
        duration_seconds=(end - start) / 1000 if end and start else None,
        reports=reports,
        artifacts=artifacts,
    )


def render_model_card(facts: CardFacts, registration: dict[str, Any], metric: str, model_path: str) -> str:
    """The card's markdown. ``registration``: the gate's decision (name, version, alias, champion, reason);
    ``metric``: the validation metric the gate compares; ``model_path``: the model file as dvc.yaml names it
    (``paths.model``), whose md5 in the run's dvc.lock the card quotes."""
    name, version = registration["name"], registration["version"]
    sections = [
        f"# {name} v{version}",
        _model_section(facts),
        _data_section(facts),
        _training_section(facts),
        _results_section(facts, metric),
        _lineage_section(facts, registration, model_path),
        _decision_section(registration, metric),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def publish_model_card(client: Any, name: str, version: int, run_id: str, card: str) -> None:
    """The card as the version's description and as the run's ``model_card.md``."""
    client.update_model_version(name, str(version), description=card)
    client.log_text(run_id, card, CARD_FILE)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value).replace("|", "\\|")


def _json_report(facts: CardFacts, name: str) -> dict[str, Any]:
    return json.loads(facts.reports[name]) if name in facts.reports else {}


def _model_section(facts: CardFacts) -> str:
    params = facts.params
    task = params.get("task", "?")
    model_type = params.get("language_model.cell" if task == "language_model" else "model.type", "?")
    size = facts.metrics.get("model_parameters")
    rows = [
        ["task", task],
        ["model type", model_type],
        ["parameters", f"{int(size):,}" if size is not None else "not logged"],
        ["ensemble members", params.get("train.ensemble_size", "?")],
        ["logged model", facts.tags.get(MODEL_URI_TAG, "none")],
    ]
    return "## Model\n\n" + _table(["", ""], rows)


def _data_section(facts: CardFacts) -> str:
    validation = _json_report(facts, "validation.json")
    statistics = validation.get("statistics", {})
    files = validation.get("files", {})
    content = {"valid": facts.tags.get(VALID_DATA_HASH_TAG), "test": facts.tags.get(DATA_HASH_TAG)}
    rows = [
        [
            split,
            statistics.get(split, {}).get("rows", "?"),
            statistics.get(split, {}).get("classes", "-"),
            (files.get(split) or "-")[:16],
            (content.get(split) or "-")[:16],
        ]
        for split in SPLITS
        if split in statistics or split in files
    ]
    lines = [
        "## Data",
        "",
        f"Dataset `{facts.params.get('dataset.name', '?')}`, trained on {facts.params.get('dataset.train_on', '?')}"
        + (
            f"; splits carved by the validate stage: {', '.join(validation['created_splits'])}"
            if validation.get("created_splits")
            else ""
        )
        + ".",
        "",
        _table(["split", "rows", "classes", "file sha256", "content sha256 (the gate's)"], rows),
    ]
    if validation:
        checks = validation.get("checks", [])
        failed = [check["summary"] for check in checks if not check.get("success")]
        skipped = {split: item.get("count", 0) for split, item in validation.get("skipped_lines", {}).items()}
        lines += [
            "",
            f"Validation (Great Expectations): {'passed' if validation.get('success') else 'FAILED'}, "
            f"{len(checks) - len(failed)} of {len(checks)} checks passed"
            + (
                f"; skipped lines: {', '.join(f'{split} {count}' for split, count in skipped.items())}"
                if skipped
                else ""
            )
            + ".",
            *[f"- failed: {summary}" for summary in failed],
        ]
    else:
        lines += ["", "No validation report was logged with this run."]
    if f"{DATA_DOCS_PATH}/index.html" in facts.artifacts:
        lines += [
            "",
            f"Great Expectations' Data Docs of these splits: run artifact `{DATA_DOCS_PATH}/index.html` (the run's "
            f"Artifacts tab shows it; `mlflow artifacts download --run-id {facts.run_id} --artifact-path "
            f"{DATA_DOCS_PATH}` gets the whole site).",
        ]
    return "\n".join(lines)


def _training_section(facts: CardFacts) -> str:
    defaults = logged_params(params_from_dict({}))
    changed = [
        [key, value, defaults.get(key, "-")] for key, value in facts.params.items() if defaults.get(key) != value
    ]
    metrics = facts.metrics
    rows = [
        ["epochs run", _integer(metrics.get("epochs_run"))],
        ["best epoch", _integer(metrics.get("best_epoch"))],
        ["resumed from epoch", _integer(metrics.get("resumed_from_epoch"))],
        [
            "device",
            facts.tags.get("textflow.device", "?")
            + (f" ({facts.tags['textflow.gpu']})" if "textflow.gpu" in facts.tags else ""),
        ],
        ["training seconds", _seconds(metrics.get("train_seconds"))],
        ["run wall time (s, training to evaluation)", _seconds(facts.duration_seconds)],
    ]
    lines = ["## Training", "", _table(["", ""], rows), "", "Params that differ from the defaults:", ""]
    lines.append(_table(["param", "value", "default"], changed) if changed else "none: every param at its default.")
    return "\n".join(lines)


def _integer(value: float | None) -> Any:
    return int(value) if value is not None else "?"


def _seconds(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "?"


def _results_section(facts: CardFacts, metric: str) -> str:
    report = _json_report(facts, "metrics.json")
    splits = {"validation": report.get("valid", {}), "test": report.get("test", {})}
    scores = sorted(
        {key for values in splits.values() for key, value in values.items() if isinstance(value, (int, float))}
    )
    lines = ["## Results", ""]
    if not scores:
        return "\n".join([*lines, "No evaluation report was logged with this run."])
    lines.append(
        _table(["metric", "validation", "test"], [[key, *(splits[s].get(key, "-") for s in splits)] for key in scores])
    )
    per_class = splits["test"].get("per_class", {})
    if per_class:
        columns = list(next(iter(per_class.values())))
        lines += [
            "",
            "Per class (test):",
            "",
            _table(["class", *columns], [[label, *values.values()] for label, values in per_class.items()]),
        ]
    if "reports/confusion.png" in facts.artifacts:
        link = f"get-artifact?path=reports/confusion.png&run_uuid={facts.run_id}"
        lines += ["", f"![confusion matrix on the test split]({link})", "", "(run artifact `reports/confusion.png`)"]
    if "samples.txt" in facts.reports:
        samples = [sample.strip() for sample in facts.reports["samples.txt"].split("\n\n") if sample.strip()]
        lines += ["", "Samples (one per prompt):", "", *[f"> {sample}\n" for sample in samples]]
    return "\n".join(lines)


def _lineage_section(facts: CardFacts, registration: dict[str, Any], model_path: str) -> str:
    tags = facts.tags
    rows = [["MLflow run", facts.run_id]]
    if "mlflow.parentRunId" in tags:
        rows.append(["sweep (parent run)", tags["mlflow.parentRunId"]])
    commit = tags.get("mlflow.source.git.commit")
    rows.append(
        [
            "git commit",
            f"{commit}{' (uncommitted changes)' if tags.get('git.dirty') == 'true' else ''}"
            if commit
            else "not a git checkout",
        ]
    )
    if "dvc.lock" in facts.reports:
        lock = facts.reports["dvc.lock"]
        rows.append(["dvc.lock sha256 (as evaluated)", hashlib.sha256(lock.encode()).hexdigest()])
        outputs = parse_lock(lock).get("stages", {}).get("train", {}).get("outs", [])
        rows += [
            [f"`{out['path']}` md5 (dvc.lock)", out.get("md5", "?")] for out in outputs if out["path"] == model_path
        ]
    if "airflow.dag_id" in tags:
        rows.append(
            [
                "Airflow",
                f"DAG `{tags['airflow.dag_id']}`, run `{tags.get('airflow.run_id', '?')}`, task `{tags.get('airflow.task_id', '?')}`",
            ]
        )
    rows.append(["registered as", f"`models:/{registration['name']}/{registration['version']}`"])
    return "## Lineage\n\n" + _table(["", ""], rows)


def _decision_section(registration: dict[str, Any], metric: str) -> str:
    version, champion = registration["version"], registration["champion"]
    verdict = "champion" if champion == version else f"challenger (champion stays v{champion})"
    return f"## Champion decision\n\nAt the last registration of this run: **{verdict}**, on `validation_{metric}`: {registration['reason']}."
