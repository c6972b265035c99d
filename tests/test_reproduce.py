"""``python -m pipelines.reproduce``, run as a user runs it: in a fresh clone of the project, against the MLflow
store that holds the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import SMALL_PIPELINE, copy_project, merge, run, tool_env, write_params


def reproduce(target: str, cwd: Path, store: Path) -> subprocess.CompletedProcess:
    env = tool_env({"MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlruns' / 'mlflow.db'}"})
    return run([sys.executable, "-m", "pipelines.reproduce", target], cwd, check=False, timeout=900, env=env)


def fresh_clone(project: Path, destination: Path) -> Path:
    """What a teammate has: the git history and nothing else (no DVC cache, outputs or MLflow store)."""
    run(["git", "clone", "-q", str(project), str(destination)], project.parent)
    return destination


def test_the_champion_rebuilt_in_a_fresh_clone_is_identical_to_the_byte(reproduced_project, tmp_path):
    register = json.loads((reproduced_project / "reports/register.json").read_text())
    clone = fresh_clone(reproduced_project, tmp_path / "clone")
    result = reproduce(f"models:/{register['name']}@champion", clone, reproduced_project)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    recorded = yaml.safe_load((reproduced_project / "dvc.lock").read_text())["stages"]
    for stage in ("download", "validate", "tokenize", "train"):
        for out in recorded[stage]["outs"]:
            if out["path"] != "reports/mlflow_run.json":
                assert any(line.split()[:3] == ["identical", stage, out["path"]] for line in lines), (out, lines)
    assert any(line.split()[:3] == ["identical", "evaluate", "reports/metrics.json"] for line in lines), lines
    assert any(line.startswith("identical") and "logged scores" in line for line in lines), lines
    assert not [line for line in lines if line.startswith(("DIFFERS", "changed"))], lines
    assert lines[-1] == f"run {register['run_id']} rebuilt identically at commit {_commit(reproduced_project)[:12]}"
    assert not list((clone / ".runs").glob("reproduce-*")), "an identical rebuild leaves no workspace behind"


def test_a_run_whose_commit_is_gone_fails_with_one_line_naming_it(reproduced_project, tmp_path):
    run_id = json.loads((reproduced_project / "reports/mlflow_run.json").read_text())["run_id"]
    rewritten = copy_project(tmp_path / "rewritten", SMALL_PIPELINE)  # the same files, another history
    result = reproduce(run_id, rewritten, reproduced_project)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        f"error: run {run_id} was made at commit {_commit(reproduced_project)[:12]}, which is not in this "
        "repository (rewritten history, or a branch not fetched): fetch the branch that holds it, or the run "
        "cannot be rebuilt"
    )


def test_a_run_whose_data_changed_since_fails_at_the_data(tmp_path):
    """A local data file edited after the run: the rebuild stops at the first stage whose output differs and
    says which, without training on the new data."""
    project = copy_project(tmp_path / "local", {})
    data = project / "data" / "local" / "my-data.txt"
    data.parent.mkdir(parents=True)
    data.write_text("".join(f"{label} {label} example number {i}\n" for i in range(60) for label in ("yes", "no")))
    local = {"dataset": {"name": "local", "local": {"train": "my-data.txt"}}, "train": {"epochs": 1}}
    write_params(project, merge(SMALL_PIPELINE, local))
    run(["git", "commit", "-qam", "local data"], project)
    run(["dvc", "repro", "evaluate"], project, env=tool_env({"MLFLOW_TRACKING_URI": ""}))
    run_id = json.loads((project / "reports/mlflow_run.json").read_text())["run_id"]
    data.write_text(data.read_text().replace("yes yes example number 7\n", "yes yes example number seven\n"))

    result = reproduce(run_id, project, project)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    differs = [line for line in lines if line.startswith("DIFFERS")]
    assert len(differs) == 1 and differs[0].startswith("DIFFERS    local_files data/local_files.json: md5 "), lines
    assert "not rebuilt: local_files already differs" in lines[-1], lines
    assert result.stderr.splitlines()[-1] == f"run {run_id} did NOT rebuild identically (lines marked DIFFERS)"
    assert list((project / ".runs").glob("reproduce-*")), "a differing rebuild is kept for a look"


def _commit(project: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
