"""A DAG run as a DVC experiment: ``dvc exp save`` in the run's workspace once its stages are done, named after
the Airflow run, so ``dvc exp show`` in the project lists Airflow runs beside ``dvc exp run``'s, with their params
and metrics, and ``dvc exp apply <name>`` brings one into the workspace.

A run's workspace is a git worktree of the project, and git keeps every worktree's refs (``refs/exps/...``) in
the project's own repository, so the saved experiment is the project's at once; the outputs it names are in the
shared DVC cache already, and the ``cache: false`` reports (metrics meant for git) are included even where git
does not track them yet. Saves from concurrent runs are serialised (DVC's save goes through refs every
workspace shares). With a DVC remote (each task in a scratch clone on its worker) nothing is saved: the final
task's clone holds only the outputs of the stages restored there, and ``dvc exp save`` records a whole
workspace; the task says so in its log.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

from filelock import FileLock

from pipelines.config.pipeline import load_stages
from pipelines.orchestration import workspace
from pipelines.orchestration.distributed import RemoteSettings

log = logging.getLogger(__name__)
SAVE_TIMEOUT = 600


def experiment_name(run_id: str) -> str:
    """The Airflow run id as a git ref name (``manual__2026-12-06T05:55:00+00:00`` has ``:`` and ``+``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", run_id).strip("-.") or "airflow-run"


def save_experiment(root: Path, space: Path, run_id: str) -> str | None:
    """Save ``space`` as the experiment :func:`experiment_name` (again on a retry: ``--force``); its name, or
    None where nothing is saved (a DVC remote, see the module docstring)."""
    root = root.resolve()
    if RemoteSettings.from_env(root) is not None:
        log.info("not saved as a DVC experiment: with a DVC remote each task's clone holds part of the run")
        return None
    name = experiment_name(run_id)
    command = [sys.executable, "-m", "dvc", "exp", "save", "--force", "--name", name]
    for stage in load_stages(space / "dvc.yaml").values():
        command += [argument for path in stage.uncached if (space / path).exists() for argument in ("-I", path)]
    with workspace.workspace_lock(space), FileLock(space.parent / "experiments.lock", timeout=SAVE_TIMEOUT):
        workspace.run_command(command, space, workspace.stage_environment(root))
    log.info(
        "saved as DVC experiment %s: `dvc exp show` in the project lists it, `dvc exp apply %s` restores it", name, name
    )
    return name
