"""Housekeeping for the per-DAG-run workspaces under ``.runs/`` (``TEXTFLOW_RUNS_DIR``).

Each Airflow run leaves a git worktree with its outputs and its training checkpoint (a fasttext checkpoint
is about 1 GB), so ``.runs/`` grows with every run. And a plain ``dvc gc -w`` in the project root keeps
only what the project's own workspace uses: it would delete cache objects that only run workspaces reference,
breaking their ``dvc repro`` and the run-cache. So:

    python -m pipelines.orchestration.runs list                          # workspaces, newest first, with age and size
    python -m pipelines.orchestration.runs prune --keep 10               # remove all but the newest 10
    python -m pipelines.orchestration.runs prune --older-than 14         # remove those untouched for 14 days
    python -m pipelines.orchestration.runs gc [--dry]                    # dvc gc that keeps what every workspace uses

``make runs-prune`` and ``make gc`` run the last two with the defaults below. Prune never removes a workspace
in which a stage is running (its stage lock is held: a six-hour training touches nothing but its own outputs, so
no timestamp can tell), nor one touched in the last hour (a run between two of its tasks).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from pipelines.orchestration.workspace import (
    WorkspaceError,
    remove_workspace,
    runs_dir,
    stage_lock_path,
    stage_running,
)

DEFAULT_KEEP = 20
RECENT_SECONDS = 3600


@dataclass(frozen=True)
class RunWorkspace:
    path: Path
    modified: float
    size: int
    running: bool = False


def _size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file() and not item.is_symlink())


def list_workspaces(root: Path) -> list[RunWorkspace]:
    """Run workspaces (git worktrees) under the runs directory, newest first."""
    directory = runs_dir(root)
    if not directory.is_dir():
        return []
    found = [
        RunWorkspace(path, path.stat().st_mtime, _size(path), stage_running(path))
        for path in directory.iterdir()
        if path.is_dir() and (path / ".git").exists()
    ]
    return sorted(found, key=lambda workspace: workspace.modified, reverse=True)


def select_for_removal(
    workspaces: list[RunWorkspace], keep: int | None, older_than_days: float | None, now: float
) -> list[RunWorkspace]:
    """Beyond the newest ``keep``, or older than ``older_than_days``; never one with a stage running, nor one
    touched in the last hour."""
    chosen = []
    for rank, workspace in enumerate(workspaces):
        age = now - workspace.modified
        if workspace.running or age < RECENT_SECONDS:
            continue
        if (keep is not None and rank >= keep) or (older_than_days is not None and age > older_than_days * 86400):
            chosen.append(workspace)
    return chosen


def collect_garbage(root: Path, dry: bool) -> None:
    """``dvc gc -w`` in the project, keeping every run workspace's data too (``--projects``)."""
    projects = [str(workspace.path) for workspace in list_workspaces(root)]
    command = [sys.executable, "-m", "dvc", "gc", "--workspace", "--force"]
    if projects:
        command += ["--projects", *projects]
    if dry:
        command.append("--dry")
    subprocess.run(command, cwd=root, check=True, timeout=3600)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.orchestration.runs", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="run workspaces, newest first")
    prune = commands.add_parser("prune", help="remove old run workspaces")
    prune.add_argument("--keep", type=int, help=f"keep the newest N (default {DEFAULT_KEEP} without --older-than)")
    prune.add_argument("--older-than", type=float, metavar="DAYS", help="remove those untouched for DAYS days")
    gc = commands.add_parser("gc", help="dvc gc that keeps what the run workspaces use")
    gc.add_argument("--dry", action="store_true", help="only print what would be removed")
    args = parser.parse_args(argv)
    root = Path.cwd()
    if args.command == "list":
        for workspace in list_workspaces(root):
            age_hours = (time.time() - workspace.modified) / 3600
            state = "running" if workspace.running else ""
            print(f"{workspace.path.name}\t{age_hours:8.1f} h\t{workspace.size / 2**20:10.1f} MiB\t{state}")
    elif args.command == "prune":
        keep = args.keep if args.keep is not None or args.older_than is not None else DEFAULT_KEEP
        for workspace in select_for_removal(list_workspaces(root), keep, args.older_than, time.time()):
            lock = FileLock(stage_lock_path(workspace.path), is_singleton=False)
            try:
                lock.acquire(timeout=0)  # held while removing, so no stage can start in it meanwhile
            except Timeout:
                print(f"kept {workspace.path.name}: a stage started in it")
                continue
            try:
                remove_workspace(root, workspace.path)
            except WorkspaceError as error:
                sys.exit(f"error: {error}")
            finally:
                lock.release()
            print(f"removed {workspace.path.name} ({workspace.size / 2**20:.1f} MiB)")
    else:
        collect_garbage(root, args.dry)


if __name__ == "__main__":
    main()
