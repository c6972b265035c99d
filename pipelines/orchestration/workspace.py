"""One workspace per DAG run, built from what the run is, (commit, overrides), on whichever worker runs a task.

On one machine (no ``TEXTFLOW_DVC_REMOTE``) it is a git worktree of the project at the run's commit, sharing
one DVC cache; with a remote, a scratch clone on each worker that exchanges outputs through it (distributed.py).

Why not run every DAG run in the project directory: DVC holds a repo lock during ``dvc repro``, so two
concurrent runs fail with "Unable to acquire lock" (treeverse/dvc 10465, 5795, 3783). A worktree per run
gives each its own lock and outputs, while the shared cache (and DVC's run-cache inside it) restores any
stage whose inputs and params were seen before instead of re-running it. Two tasks of one run that Airflow
starts at once (stages that do not depend on each other) would still meet in one workspace, so
:func:`run_stage` serialises them on a lock file beside the workspace instead of letting DVC fail.

The run's commit is the one whose params.yaml and dvc.yaml the DAG and its trigger form were built from, so
an uncommitted edit in the project directory is never half-applied: the run uses the committed files, and
the task log says so.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock, Timeout
from tenacity import retry, stop_after_attempt, wait_exponential

from pipelines.common.errors import INPUT_ERROR_EXIT, InputError
from pipelines.common.io import write_text
from pipelines.common.project import ROOT_ENV
from pipelines.config import set_dotted
from pipelines.config.yaml_reader import load_yaml
from pipelines.orchestration.distributed import (
    RemoteSettings,
    clone_workspace,
    repro_commands,
    stage_command_env,
)

log = logging.getLogger(__name__)
RUNS_ENV = "TEXTFLOW_RUNS_DIR"
SETUP_TIMEOUT = 1800
PINNED_FILES = ("params.yaml", "dvc.yaml")
OUTPUT_TAIL_LINES = 20
"""How many last lines of a failed stage's output its error keeps."""


class StageFailed(RuntimeError):
    """A command in a workspace exited non-zero; ``output_tail``: its last lines (a failure announcement quotes
    them, pipelines/orchestration/notify.py)."""

    def __init__(self, message: str, output_tail: list[str]):
        super().__init__(message)
        self.output_tail = output_tail


class StageRefusedInput(StageFailed, InputError):
    """The stage exited ``INPUT_ERROR_EXIT``: its params or data are wrong, and running it again cannot help."""


STAGE_EXIT = re.compile(r"failed to run: .*, exited with (-?\d+)$")
"""How ``dvc repro`` (which itself exits 255) reports the exit status of the stage command that failed."""


def stage_exit_status(output: list[str]) -> int | None:
    for line in reversed(output):
        if found := STAGE_EXIT.search(line):
            return int(found.group(1))
    return None


class WorkspaceError(RuntimeError):
    """The project is not a git checkout, or a commit or worktree is not what the run needs."""


def runs_dir(root: Path) -> Path:
    return Path(os.environ.get(RUNS_ENV) or root / ".runs")


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise WorkspaceError(f"git {' '.join(args)} failed in the project: {result.stderr.strip()}")
    return result.stdout.strip()


def head_commit(root: Path) -> str:
    """The project's HEAD; a clear error when the project is not a git checkout with a commit."""
    try:
        return _git(root, "rev-parse", "--verify", "HEAD^{commit}")
    except WorkspaceError as error:
        raise WorkspaceError(
            f"{error}. The DAGs run committed code: make the project a git checkout with at least one commit"
        ) from None


def committed_text(root: Path, commit: str, path: str) -> str:
    return _git(root, "show", f"{commit}:{path}")


def committed_params(root: Path, commit: str) -> dict[str, Any]:
    return load_yaml(committed_text(root, commit, "params.yaml")) or {}


def uncommitted_changes(root: Path, commit: str) -> list[str]:
    """Which of params.yaml and dvc.yaml in the project directory differ from ``commit``."""
    return [
        name
        for name in PINNED_FILES
        if not (root / name).exists()
        or (root / name).read_text(encoding="utf-8").rstrip("\n") != committed_text(root, commit, name)
    ]


def workspace_name(run_id: str) -> str:
    """A run id as a directory name: readable (Airflow's ids contain ``:`` and ``+``, which become ``_``) and
    unique (a digest of the id itself, so ids differing only in those characters, or ``.``, never share one)."""
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id).strip(".")[:80] or "run"
    return f"{readable}-{hashlib.sha256(run_id.encode()).hexdigest()[:10]}"


def workspace_path(root: Path, run_id: str) -> Path:
    return runs_dir(root) / workspace_name(run_id)


def prepare_workspace(root: Path, run_id: str, overrides: dict[str, Any], commit: str | None = None) -> Path:
    """Create (or reuse, on a retry or a later task of the run) the run's workspace at ``commit`` (default:
    HEAD) and write its params.yaml with ``overrides``: a git worktree sharing the project's DVC cache, or with
    a DVC remote configured (see distributed.py) a scratch clone on this worker."""
    root = root.resolve()
    commit = commit or head_commit(root)
    workspace = workspace_path(root, run_id)
    remote = RemoteSettings.from_env(root)
    workspace.parent.mkdir(parents=True, exist_ok=True)
    # Two tasks of one run may start on one worker at once (evaluate and keywords): one builds, the other waits.
    with FileLock(workspace.parent / f"{workspace.name}.setup.lock", timeout=SETUP_TIMEOUT):
        if (workspace / ".git").exists():
            if (current := _git(workspace, "rev-parse", "HEAD")) != commit:
                raise WorkspaceError(
                    f"workspace {workspace.name} is at commit {current[:12]}, not the run's {commit[:12]}"
                )
        elif remote is not None:
            clone_workspace(remote, workspace, commit)
            log.info("workspace %s cloned from %s at commit %s", workspace.name, remote.shown_git_url, commit[:12])
        else:
            _add_worktree(root, workspace, commit)
    params = committed_params(workspace if remote else root, commit)
    for key, value in overrides.items():
        set_dotted(params, key, value)
    text = yaml.safe_dump(params, sort_keys=False)
    if (workspace / "params.yaml").read_text(encoding="utf-8") != text:
        write_text(workspace / "params.yaml", text)
        if overrides:
            log.info("params overridden for this run: %s", ", ".join(f"{k}={v!r}" for k, v in overrides.items()))
    return workspace


def warn_if_uncommitted(root: Path, commit: str) -> None:
    stale = uncommitted_changes(root, commit)
    if stale:
        log.warning(
            "%s in the project directory differ(s) from commit %s; this run uses the committed version (what the "
            "trigger form showed). Commit the change to run it.",
            " and ".join(stale),
            commit[:12],
        )


@retry(stop=stop_after_attempt(3), wait=wait_exponential(min=1, max=4), reraise=True)
def _git_worktree_add(root: Path, workspace: Path, commit: str) -> None:
    """Mapped sweep tasks add worktrees concurrently, and git may hold its lock briefly: retried."""
    _git(root, "worktree", "add", "--detach", str(workspace), commit)


def _add_worktree(root: Path, workspace: Path, commit: str) -> None:
    """A worktree sharing the project's DVC cache. If configuring the cache fails, the worktree is removed
    again: a retry must not find a workspace with a private cache of its own (no run-cache sharing)."""
    _git_worktree_add(root, workspace, commit)
    try:
        run_command(
            [sys.executable, "-m", "dvc", "config", "--local", "cache.dir", str(_shared_cache(root))], workspace
        )
    except BaseException:
        _git(root, "worktree", "remove", "--force", str(workspace))
        raise
    log.info("workspace %s at commit %s", workspace.name, commit[:12])


def _shared_cache(root: Path) -> Path:
    configured = subprocess.run(
        [sys.executable, "-m", "dvc", "cache", "dir"], cwd=root, capture_output=True, text=True, timeout=60
    ).stdout.strip()
    return Path(configured or root / ".dvc" / "cache").resolve()


def stage_environment(root: Path) -> dict[str, str]:
    """The environment a stage runs with: the project's venv tools first and its MLflow store."""
    bin_dir = str(Path(sys.executable).parent)
    return os.environ | {ROOT_ENV: str(root.resolve()), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def stage_lock_path(workspace: Path) -> Path:
    """The lock a stage holds while it runs in ``workspace`` (beside it, so the worktree stays clean)."""
    return workspace.parent / f"{workspace.name}.lock"


@contextlib.contextmanager
def workspace_lock(workspace: Path, timeout: float = 6 * 3600) -> Iterator[None]:
    """Hold the workspace's stage lock, waiting at most ``timeout`` seconds for a stage of the same run."""
    lock = FileLock(stage_lock_path(workspace), is_singleton=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("another stage is running in workspace %s; waiting for it", workspace.name)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise WorkspaceError(f"workspace {workspace.name} stayed locked for {timeout:.0f}s") from None
    try:
        yield
    finally:
        lock.release()


def stage_running(workspace: Path) -> bool:
    """Whether a stage holds ``workspace``'s lock now (a training may run for hours without touching the
    workspace's own directory, so its age says nothing)."""
    path = stage_lock_path(workspace)
    if not path.exists():
        return False
    lock = FileLock(path, is_singleton=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def run_stage(
    root: Path, workspace: Path, stage: str, extra_env: dict[str, str] | None = None, force: bool = False
) -> None:
    """``dvc repro --single-item <stage>`` in the workspace, its output streamed into the task log; with a DVC
    remote, ``dvc repro --pull <stage>`` (what came before is restored, not re-run) and a push of the results.
    ``force``: the stage executes even when DVC's run-cache holds its outputs (a rebuild that checks them)."""
    environment = stage_environment(root) | (extra_env or {})
    remote = RemoteSettings.from_env(root.resolve())
    forced = ["--force"] if force else []
    with workspace_lock(workspace):
        if remote is None:
            run_command([sys.executable, "-m", "dvc", "repro", "--single-item", *forced, stage], workspace, environment)
            return
        environment |= stage_command_env(workspace, stage, remote)
        for command in repro_commands(stage, forced):
            run_command(command, workspace, environment)


def run_command(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    """``command`` (``python -m ...``) in ``cwd``, its output streamed into the log; :class:`StageFailed` with
    its last lines when it fails, :class:`StageRefusedInput` when the stage it ran refused its input."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    tail: collections.deque[str] = collections.deque(maxlen=OUTPUT_TAIL_LINES)
    for line in process.stdout:
        log.info("%s", line.rstrip())
        tail.append(line.rstrip())
    if process.wait() != 0:
        failed = StageRefusedInput if stage_exit_status(list(tail)) == INPUT_ERROR_EXIT else StageFailed
        raise failed(
            f"{' '.join(command[command.index('-m') + 1 :])} failed in workspace {cwd.name} "
            f"with exit code {process.returncode}",
            list(tail),
        )


def remove_workspace(root: Path, workspace: Path) -> None:
    """A worktree through git (so the project forgets it); a worker's scratch clone (``.git`` is a directory
    there) by deleting it."""
    if (workspace / ".git").is_dir():
        shutil.rmtree(workspace)
    else:
        _git(root.resolve(), "worktree", "remove", "--force", str(workspace))
    stage_lock_path(workspace).unlink(missing_ok=True)
    (workspace.parent / f"{workspace.name}.setup.lock").unlink(missing_ok=True)
