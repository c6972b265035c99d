"""One workspace per DAG run: a git worktree of the project at its current commit, sharing one DVC cache.

Why not run every DAG run in the project directory: DVC holds a repo lock during ``dvc repro``, so two
concurrent runs fail with "Unable to acquire lock" (treeverse/dvc 10465, 5795, 3783). A worktree per run
gives each its own lock and outputs, while the shared cache (and DVC's run-cache inside it) restores any
stage whose inputs and params were seen before instead of re-running it.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from pipelines.config import set_dotted
from pipelines.tracking import ROOT_ENV

log = logging.getLogger(__name__)
RUNS_ENV = "TEXTFLOW_RUNS_DIR"


def runs_dir(root: Path) -> Path:
    return Path(os.environ.get(RUNS_ENV) or root / ".runs")


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {root}: {result.stderr.strip()}")
    return result.stdout.strip()


def prepare_workspace(root: Path, run_id: str, overrides: dict[str, Any]) -> Path:
    """Create (or reuse, on a retry) the run's worktree and write its params.yaml with ``overrides``."""
    root = root.resolve()
    workspace = runs_dir(root) / re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)
    if not (workspace / ".git").exists():
        workspace.parent.mkdir(parents=True, exist_ok=True)
        commit = _git(root, "rev-parse", "HEAD")
        for attempt in range(1, 4):  # mapped sweep tasks add worktrees concurrently; git may hold a lock briefly
            try:
                _git(root, "worktree", "add", "--detach", str(workspace), commit)
                break
            except RuntimeError:
                if attempt == 3:
                    raise
                time.sleep(attempt)
        log.info("workspace %s at commit %s", workspace, commit[:12])
    cache = _shared_cache(root)
    _run([sys.executable, "-m", "dvc", "config", "--local", "cache.dir", str(cache)], workspace)
    params = yaml.safe_load((workspace / "params.yaml").read_text(encoding="utf-8"))
    for key, value in overrides.items():
        set_dotted(params, key, value)
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return workspace


def _shared_cache(root: Path) -> Path:
    configured = subprocess.run(
        [sys.executable, "-m", "dvc", "cache", "dir"], cwd=root, capture_output=True, text=True, timeout=60
    ).stdout.strip()
    return Path(configured or root / ".dvc" / "cache").resolve()


def stage_environment(root: Path) -> dict[str, str]:
    """The environment a stage runs with: the project's venv tools first and its MLflow store."""
    bin_dir = str(Path(sys.executable).parent)
    return os.environ | {ROOT_ENV: str(root.resolve()), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def run_stage(root: Path, workspace: Path, stage: str, extra_env: dict[str, str] | None = None) -> None:
    """``dvc repro --single-item <stage>`` in the workspace, its output streamed into the task log."""
    command = [sys.executable, "-m", "dvc", "repro", "--single-item", stage]
    _run(command, workspace, stage_environment(root) | (extra_env or {}))


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        log.info("%s", line.rstrip())
    if process.wait() != 0:
        raise RuntimeError(f"{' '.join(command[2:])} failed in {cwd} with exit code {process.returncode}")


def remove_workspace(root: Path, workspace: Path) -> None:
    _git(root.resolve(), "worktree", "remove", "--force", str(workspace))
