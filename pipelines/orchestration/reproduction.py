"""Rebuild a recorded MLflow run and compare it, output by output, with what the run recorded.

The rebuild is a DAG run's machinery without Airflow: a fresh workspace at the run's commit with the run's params
(``prepare_workspace``), then each stage up to ``evaluate`` in order with ``dvc repro --force --single-item``, so
every stage executes (DVC's run-cache would otherwise restore the recorded outputs instead of rebuilding them).
After each stage its outputs' hashes are compared with the run's ``dvc.lock``; the first stage that differs stops
the rebuild, since everything after it would differ for the same reason. Evaluate's own entry in that lock is
older than the run (the lock was logged while evaluate ran), so evaluate is compared through the run's
``reports/metrics.json`` and its logged ``validation_*``/``test_*`` scores instead.

The params come from the recorded lock (each stage's ``params:`` as the run used them), so a run made with
``dvc exp run -S`` or a DAG form rebuilds with its own values, not today's params.yaml. Tracking is off in the
rebuild: an audit adds no run to the team's experiment, and the one output that names the MLflow run
(``paths.run`` in dvc.yaml) is not compared.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.common.errors import PipelineError
from pipelines.config.pipeline import dvc_paths, stages_before
from pipelines.orchestration.distributed import RemoteSettings
from pipelines.orchestration.workspace import prepare_workspace, remove_workspace, run_stage, workspace_path
from pipelines.tracking.recorded_run import RecordedRun
from pipelines.tracking.scores import split_metrics

LAST_STAGE = "evaluate"
log = logging.getLogger("reproduce")


class ReproduceError(PipelineError, RuntimeError):
    """The rebuild cannot start (the run's commit is not in this repository)."""


@dataclass(frozen=True)
class Check:
    """One compared thing: an output of a stage, or the run's scores (``identical`` None: not compared), or an
    input of a stage that changed since the run (``changed_input``: it explains a difference, and is none itself
    when the outputs come out the same)."""

    stage: str
    path: str
    identical: bool | None
    detail: str = ""
    changed_input: bool = False

    @property
    def differs(self) -> bool:
        return self.identical is False and not self.changed_input

    def line(self) -> str:
        verdict = (
            "changed" if self.changed_input else {True: "identical", False: "DIFFERS", None: "skipped"}[self.identical]
        )
        return f"{verdict:9}  {self.stage:11} {self.path}" + (f": {self.detail}" if self.detail else "")


def workspace_name(run_id: str) -> str:
    return f"reproduce-{run_id}"


def rebuild_overrides(lock: dict[str, Any], stages: list[str]) -> dict[str, Any]:
    """The params every rebuilt stage read, as the run's lock holds them, and tracking off."""
    overrides: dict[str, Any] = {}
    for stage in stages:
        overrides.update(lock.get("stages", {}).get(stage, {}).get("params", {}).get("params.yaml", {}))
    return overrides | {"tracking.enabled": False}


def compare_stage(stage: str, recorded: dict[str, Any] | None, rebuilt: dict[str, Any], run_file: str) -> list[Check]:
    """The stage's outputs against the recorded ones; also every input that differs (a source file edited in a
    dirty tree, a local data file changed since), which says why an output differs."""
    if recorded is None:
        return [Check(stage, "(stage)", None, "not in the run's dvc.lock (added after the run?)")]
    rebuilt_deps = {item["path"]: item.get("md5") for item in rebuilt.get("deps", [])}
    checks = [
        Check(stage, item["path"], False, f"input, md5 {item.get('md5')} in the run, {now} now", changed_input=True)
        for item in recorded.get("deps", [])
        if (now := rebuilt_deps.get(item["path"])) != item.get("md5")
    ]
    rebuilt_outs = {item["path"]: item.get("md5") for item in rebuilt.get("outs", [])}
    for item in recorded.get("outs", []):
        path, then = item["path"], item.get("md5")
        if path == run_file:
            checks.append(Check(stage, path, None, "names the MLflow run, so it differs by design"))
        elif (now := rebuilt_outs.get(path)) == then:
            checks.append(Check(stage, path, True))
        else:
            checks.append(Check(stage, path, False, f"md5 {then} in the run, {now} rebuilt"))
    return checks


def compare_scores(record: RecordedRun, rebuilt_metrics_json: str) -> list[Check]:
    """``reports/metrics.json`` to the byte, and each ``validation_*``/``test_*`` score the run logged."""
    checks = []
    recorded = json.loads(record.metrics_json)
    rebuilt = json.loads(rebuilt_metrics_json)
    if rebuilt_metrics_json == record.metrics_json:
        checks.append(Check(LAST_STAGE, "reports/metrics.json", True))
    else:
        changed = [
            f"{split}.{key} {recorded[split].get(key)} -> {value}"
            for split in rebuilt
            for key, value in (rebuilt[split].items() if isinstance(rebuilt[split], dict) else [])
            if isinstance(recorded.get(split), dict) and recorded[split].get(key) != value
        ]
        checks.append(Check(LAST_STAGE, "reports/metrics.json", False, "; ".join(changed[:6]) or "bytes differ"))
    rescored = split_metrics("validation", rebuilt.get("valid", {})) | split_metrics("test", rebuilt.get("test", {}))
    changed = [key for key, value in record.scores.items() if rescored.get(key) != value]
    checks.append(
        Check(
            LAST_STAGE,
            f"{len(record.scores)} logged scores",
            not changed,
            ", ".join(f"{key} {record.scores[key]} -> {rescored.get(key)}" for key in changed[:6]),
        )
    )
    return checks


def require_commit(root: Path, commit: str, run_id: str) -> None:
    if RemoteSettings.from_env(root) is not None:
        return  # the workspace is cloned from the git remote, which says itself when the commit is missing
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=root, capture_output=True, timeout=60
    ).returncode
    if found != 0:
        raise ReproduceError(
            f"run {run_id} was made at commit {commit[:12]}, which is not in this repository (rewritten history, or "
            "a branch not fetched): fetch the branch that holds it, or the run cannot be rebuilt"
        )


def rebuild(root: Path, record: RecordedRun, keep: bool = False) -> Iterator[Check]:
    """Rebuild ``record``'s run stage by stage, yielding each comparison as soon as its stage finished. The
    workspace is removed when everything was identical (unless ``keep``) and kept for a look otherwise."""
    require_commit(root, record.commit, record.run_id)
    if record.dirty:
        log.warning(
            "run %s was made with uncommitted changes; the rebuild uses commit %s as committed (inputs that differ "
            "from the run's are listed as changed)",
            record.run_id,
            record.commit[:12],
        )
    name = workspace_name(record.run_id)
    if (stale := workspace_path(root, name)).exists():
        remove_workspace(root, stale)  # a checkpoint left by an earlier rebuild would resume instead of training
    stage_names = list(record.lock.get("stages", {}))
    workspace = prepare_workspace(root, name, {}, record.commit)
    stages = [*stages_before(workspace / "dvc.yaml", LAST_STAGE), LAST_STAGE]
    workspace = prepare_workspace(root, name, rebuild_overrides(record.lock, stages[:-1]), record.commit)
    run_file = dvc_paths(workspace / "dvc.yaml")["run"]
    shown = os.path.relpath(workspace, root)
    log.info("rebuilding run %s at commit %s in %s: %s", record.run_id, record.commit[:12], shown, " ".join(stages))
    identical = True
    for stage in stages:
        run_stage(root, workspace, stage, force=True)
        if stage == LAST_STAGE:
            checks = compare_scores(record, (workspace / "reports/metrics.json").read_text(encoding="utf-8"))
        else:
            rebuilt_lock = _read_lock(workspace)
            recorded = record.lock["stages"].get(stage) if stage in stage_names else None
            checks = compare_stage(stage, recorded, rebuilt_lock["stages"][stage], run_file)
        yield from checks
        if any(check.differs for check in checks):
            identical = False
            rest = stages[stages.index(stage) + 1 :]
            if rest:
                yield Check(" ".join(rest), "(stages)", None, f"not rebuilt: {stage} already differs")
            break
    if identical and not keep:
        remove_workspace(root, workspace)
    else:
        log.info("the rebuild is kept in %s", shown)


def _read_lock(workspace: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((workspace / "dvc.lock").read_text(encoding="utf-8")) or {}
