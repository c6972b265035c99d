"""A DAG run as a DVC experiment: ``dvc exp save`` in the run's workspace once its stages are done, named after
the Airflow run, so ``dvc exp show`` lists Airflow runs beside ``dvc exp run``'s, with their params and
metrics, and ``dvc exp apply <name>`` brings one into a workspace.

On one machine a run's workspace is a git worktree of the project, and git keeps every worktree's refs
(``refs/exps/...``) in the project's own repository, so the saved experiment is the project's at once; the
outputs it names are in the shared DVC cache already. With a DVC remote each task works in a scratch clone on
its worker that holds only what that task restored, and ``dvc exp save`` records a whole workspace: the last
task first restores every stage from the remote (``dvc repro --pull``, no stage allowed to run, as any task
restores the stages before its own), saves, and pushes the experiment's ref to the git remote
(``TEXTFLOW_GIT_URL``), where ``dvc exp pull`` on a laptop finds it; its outputs are on the DVC remote.

A sweep saves each trial that finished (not a pruned one) the same way, as ``<sweep run>-<trial>``, from the
workspace it trained in, so ``dvc exp show`` compares the trials as it compares a ``dvc exp run`` queue.

Either way the ``cache: false`` reports (metrics meant for git) are included even where git does not track
them yet, and saves from concurrent runs are serialised (DVC's save goes through refs every workspace shares).
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

from pipelines.config.pipeline import load_stages
from pipelines.orchestration import workspace
from pipelines.orchestration.distributed import RemoteSettings, push_experiment, stage_command_env

log = logging.getLogger(__name__)
SAVE_TIMEOUT = 600
FALLBACK_IDENTITY = {
    f"GIT_{role}_{field}": value
    for role in ("AUTHOR", "COMMITTER")
    for field, value in (("NAME", "textflow"), ("EMAIL", "textflow@localhost"))
}
"""Who commits an experiment where git has no identity configured (a worker image): ``dvc exp save``
commits, and fails without one."""


def experiment_name(run_id: str) -> str:
    """The Airflow run id as a git ref name (``manual__2026-12-06T05:55:00+00:00`` has ``:`` and ``+``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", run_id).strip("-.") or "airflow-run"


def git_identity(space: Path) -> dict[str, str]:
    """Nothing where git knows who commits in ``space``, else :data:`FALLBACK_IDENTITY`."""
    configured = subprocess.run(["git", "config", "user.email"], cwd=space, capture_output=True, timeout=60)
    return {} if configured.returncode == 0 else FALLBACK_IDENTITY


def save_experiment(root: Path, space: Path, run_id: str, stages: list[str] | None = None) -> str:
    """Save ``space`` as the experiment :func:`experiment_name` (again on a retry: ``--force``), with a DVC
    remote then pushed to the git remote; returns its name. ``stages``: what it records, stages the calling task
    ran in this workspace (a sweep trial's, up to evaluate: ``dvc exp save`` refuses a stage without its
    outputs); None: every stage, restored first from a DVC remote."""
    root = root.resolve()
    remote = RemoteSettings.from_env(root)
    name = experiment_name(run_id)
    environment = workspace.stage_environment(root)
    dvc = [sys.executable, "-m", "dvc"]
    with workspace.workspace_lock(space), FileLock(space.parent / "experiments.lock", timeout=SAVE_TIMEOUT):
        if remote is not None and stages is None:
            workspace.run_command(
                [*dvc, "repro", "--pull"], space, environment | stage_command_env(space, None, remote)
            )
        declared = load_stages(space / "dvc.yaml")
        recorded = [declared[stage] for stage in stages] if stages else declared.values()
        command = [*dvc, "exp", "save", "--force", "--name", name, *(stages or [])]
        for stage in recorded:
            command += [argument for path in stage.uncached if (space / path).exists() for argument in ("-I", path)]
        workspace.run_command(command, space, environment | git_identity(space))
        if remote is None:
            log.info("saved as DVC experiment %s: `dvc exp show` in the project lists it", name)
            return name
        ref = push_experiment(remote, space, name)
    log.info(
        "saved as DVC experiment %s, pushed to %s as %s: `dvc exp pull` fetches it", name, remote.shown_git_url, ref
    )
    return name
