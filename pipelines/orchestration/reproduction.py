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
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.common.errors import PipelineError
from pipelines.config import flatten, merged_params, params_from_dict
from pipelines.config.pipeline import ancestors, parse_lock, parse_stages, paths_from_text, upstream_stages
from pipelines.orchestration import airflow_rest
from pipelines.orchestration.distributed import RemoteSettings
from pipelines.orchestration.form import COMMIT_KEY, REBUILD_KEY
from pipelines.orchestration.workspace import (
    committed_params,
    committed_text,
    prepare_workspace,
    remove_workspace,
    run_stage,
    workspace_path,
)
from pipelines.tracking.recorded_run import RecordedRun, recorded_run
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


def rebuild_id(run_id: str) -> str:
    """The rebuild's id among the run workspaces (``workspace_path`` makes it a directory name)."""
    return f"reproduce-{run_id}"


def run_params(lock: dict[str, Any], stages: list[str]) -> dict[str, Any]:
    """The params every rebuilt stage read, as the run's lock holds them (dotted keys or whole sections)."""
    params: dict[str, Any] = {}
    for stage in stages:
        params.update(lock.get("stages", {}).get(stage, {}).get("params", {}).get("params.yaml", {}))
    return params


def rebuilt_stages(root: Path, commit: str) -> tuple[list[str], str]:
    """The stages up to evaluate, in order, and the run file (``paths.run``), per the commit's dvc.yaml."""
    text = committed_text(root, commit, "dvc.yaml")
    stages = parse_stages(text)
    return [*ancestors(LAST_STAGE, upstream_stages(stages), list(stages)), LAST_STAGE], paths_from_text(text)["run"]


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
    name = rebuild_id(record.run_id)
    if (stale := workspace_path(root, name)).exists():
        remove_workspace(root, stale)  # a checkpoint left by an earlier rebuild would resume instead of training
    stages, run_file = rebuilt_stages(root, record.commit)
    overrides = run_params(record.lock, stages[:-1]) | {"tracking.enabled": False}
    workspace = prepare_workspace(root, name, overrides, record.commit)
    shown = os.path.relpath(workspace, root)
    log.info("rebuilding run %s at commit %s in %s: %s", record.run_id, record.commit[:12], shown, " ".join(stages))
    identical = True
    for stage in stages:
        run_stage(root, workspace, stage, force=True)
        if stage == LAST_STAGE:
            checks = compare_scores(record, (workspace / "reports/metrics.json").read_text(encoding="utf-8"))
        else:
            rebuilt_lock = _read_lock(workspace)
            recorded = record.lock.get("stages", {}).get(stage)
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
    return parse_lock((workspace / "dvc.lock").read_text(encoding="utf-8"))


def recorded_params(committed: dict[str, Any], record: RecordedRun, stages: list[str]) -> dict[str, Any]:
    """``committed`` params with those ``stages`` read in ``record``'s run, every key flattened as the form's."""
    params = merged_params(committed, run_params(record.lock, stages))
    return flatten(params_from_dict(params, source=f"run {record.run_id}'s params", resolve=False))


def dag_conf(root: Path, record: RecordedRun, stages: list[str]) -> dict[str, Any]:
    """A REST conf that runs ``record``'s commit with its params (every key, flattened as the form's), every
    stage executed."""
    return {
        COMMIT_KEY: record.commit,
        REBUILD_KEY: True,
        **recorded_params(committed_params(root, record.commit), record, stages),
    }


def rebuild_through_airflow(
    root: Path, record: RecordedRun, client: Any, dag_url: str, token: str | None, minutes: float
) -> Iterator[Check]:
    """The same rebuild as a ``textflow_pipeline`` run triggered through Airflow's REST API (on whatever
    executor and workers it has); compared, once it succeeded, through the MLflow run it logged. The DAG run
    is a run like any other: it logs to the experiment and goes through the registry gate."""
    require_commit(root, record.commit, record.run_id)
    stages, run_file = rebuilt_stages(root, record.commit)
    dag_run = airflow_rest.trigger(dag_url, token, dag_conf(root, record, stages[:-1]))
    log.info("triggered DAG run %s of %s; waiting for it (at most %.0f minutes)", dag_run, dag_url, minutes)
    state, tasks = airflow_rest.finished_run(dag_url, dag_run, token, time.monotonic() + minutes * 60)
    if state != "success":
        failed = [task for task, task_state in tasks.items() if task_state == "failed"]
        raise ReproduceError(f"DAG run {dag_run} {state} (failed tasks: {', '.join(failed) or 'none'})")
    experiment = client.get_run(record.run_id).info.experiment_id
    found = client.search_runs([experiment], filter_string=f"tags.`airflow.run_id` = '{dag_run}'")
    if len(found) != 1:
        raise ReproduceError(f"DAG run {dag_run} logged {len(found)} MLflow runs to experiment {experiment}, not one")
    rebuilt = recorded_run(client, found[0].info.run_id)
    log.info("DAG run %s logged MLflow run %s", dag_run, rebuilt.run_id)
    for stage in stages[:-1]:
        recorded = record.lock.get("stages", {}).get(stage)
        yield from compare_stage(stage, recorded, rebuilt.lock.get("stages", {}).get(stage, {}), run_file)
    yield from compare_scores(record, rebuilt.metrics_json)
