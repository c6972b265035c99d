"""Workspaces on workers that share no directory: a DAG run is (git commit, overrides), not a path.

Set ``TEXTFLOW_DVC_REMOTE`` (e.g. ``s3://textflow/dvc``) and every task builds the run's workspace on whatever
worker runs it: a clone of ``TEXTFLOW_GIT_URL`` (default: the project directory the DAG was parsed from) at the
run's commit, params.yaml written with the run's overrides, the remote as the workspace's default DVC remote and a
cache of this worker's own (``<runs dir>/.dvc-cache``). A stage task then runs ``dvc repro --pull <stage>``: the
stages before it are restored from the remote's run-cache (their outputs and the small uncached reports come from
the task that ran them, on any worker), and only the task's own stage runs; one push
(:func:`push_stage_outputs`) then hands its outputs on. A stage DVC would run again instead of restoring is refused (see ``STAGES_TO_RUN_ENV``): a
training must never silently repeat on a CPU worker because a push went missing.

The S3 endpoint and credentials come from the standard ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``; they are never written into a tracked file (the remote lives in ``.dvc/config.local``
of the scratch clone). With no ``TEXTFLOW_DVC_REMOTE`` everything stays on one machine (git worktrees sharing
the project's DVC cache), as before.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines.config.pipeline import load_stages
from pipelines.data.download import CACHE_ENV
from pipelines.stages import STAGES_TO_RUN_ENV
from pipelines.training.checkpoint_mirror import CHECKPOINT_URL_ENV

REMOTE_ENV = "TEXTFLOW_DVC_REMOTE"
GIT_URL_ENV = "TEXTFLOW_GIT_URL"
CHECKPOINTS_ENV = "TEXTFLOW_CHECKPOINTS_URL"
REMOTE_NAME = "textflow"


class RemoteError(RuntimeError):
    """The run's commit or its stage outputs cannot be fetched on this worker."""


@dataclass(frozen=True)
class RemoteSettings:
    remote: str
    git_url: str
    checkpoints: str

    @classmethod
    def from_env(cls, root: Path) -> RemoteSettings | None:
        remote = os.environ.get(REMOTE_ENV)
        if not remote:
            return None
        return cls(
            remote=remote,
            git_url=os.environ.get(GIT_URL_ENV) or str(root),
            checkpoints=os.environ.get(CHECKPOINTS_ENV) or f"{remote.rstrip('/')}/checkpoints",
        )

    @property
    def shown_git_url(self) -> str:
        """The git URL as logs and errors may show it: without the ``user:token@`` of an HTTPS URL."""
        return credentials_removed(self.git_url)[0]

    def checkpoint_url(self, workspace: Path) -> str:
        """One checkpoint per DAG run (the workspace is named after it), the same on every worker."""
        return f"{self.checkpoints.rstrip('/')}/{workspace.name}/checkpoint.pt"


def credentials_removed(url: str) -> tuple[str, str | None, str | None]:
    """(URL without userinfo, user, password) of an ``https://user:token@host/...`` URL; others unchanged."""
    parts = urllib.parse.urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url, None, None
    host = parts.netloc.rsplit("@", 1)[1]
    bare = urllib.parse.urlunsplit(parts._replace(netloc=host))
    return bare, urllib.parse.unquote(parts.username or ""), urllib.parse.unquote(parts.password or "")


ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$TEXTFLOW_GIT_ASKPASS_USERNAME" ;;
  *) printf '%s\\n' "$TEXTFLOW_GIT_ASKPASS_PASSWORD" ;;
esac
"""


@contextlib.contextmanager
def git_credentials(url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(URL to give git, environment for git): a token in the URL travels through ``GIT_ASKPASS`` and the
    environment of the git process alone, never its argv (``ps``), a log line or the clone's ``.git/config``."""
    bare, user, password = credentials_removed(url)
    if user is None:
        yield url, {}
        return
    with tempfile.TemporaryDirectory(prefix="textflow-askpass-") as private:
        script = Path(private, "askpass")
        script.write_text(ASKPASS)
        script.chmod(0o700)
        yield (
            bare,
            {
                "GIT_ASKPASS": str(script),
                "GIT_TERMINAL_PROMPT": "0",
                "TEXTFLOW_GIT_ASKPASS_USERNAME": user,
                "TEXTFLOW_GIT_ASKPASS_PASSWORD": password or "",
            },
        )


def _command(command: list[str], cwd: Path, what: str, env: dict[str, str] | None = None) -> str:
    environment = os.environ | env if env else None
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, env=environment)
    if result.returncode != 0:
        raise RemoteError(f"{what} failed: {(result.stderr or result.stdout).strip()[-2000:]}")
    return result.stdout


def clone_workspace(settings: RemoteSettings, workspace: Path, commit: str) -> None:
    """A scratch clone of the project's git repository at ``commit``, with the DVC remote configured and
    without the commit's dvc.lock.

    The committed lock records outputs made where it was committed (a laptop, another image, a GPU's
    training). Where a stage's inputs match that record, DVC trusts the record over the run-cache: it pulls the
    recorded outputs, and when this remote never held them (other bytes were made here), it runs the stage
    instead of restoring what this DAG run's tasks pushed. Without the lock, every stage is restored from the
    run-cache, i.e. from what a task of this run (or an earlier run with the same inputs) actually made; DVC
    writes the lock again as the stages are restored, so evaluate still logs the lock of this run."""
    partial = workspace.with_name(workspace.name + ".cloning")
    if partial.exists():
        subprocess.run(["rm", "-rf", str(partial)], check=True, timeout=300)
    partial.parent.mkdir(parents=True, exist_ok=True)
    with git_credentials(settings.git_url) as (url, environment):
        _command(
            ["git", "clone", "--quiet", "--no-checkout", url, str(partial)], partial.parent, "git clone", environment
        )
    try:
        _command(["git", "checkout", "--quiet", "--detach", commit], partial, f"git checkout {commit[:12]}")
    except RemoteError as error:
        raise RemoteError(
            f"{error}. Commit {commit[:12]} is not in {settings.shown_git_url}: push it there before triggering the run"
        ) from None
    (partial / "dvc.lock").unlink(missing_ok=True)
    dvc = [sys.executable, "-m", "dvc"]
    _command([*dvc, "remote", "add", "--local", "--force", "--default", REMOTE_NAME, settings.remote], partial, "dvc")
    _command([*dvc, "config", "--local", "cache.dir", str(workspace.parent / ".dvc-cache")], partial, "dvc config")
    partial.rename(workspace)


def stage_command_env(workspace: Path, stage: str | None, settings: RemoteSettings) -> dict[str, str]:
    """What ``dvc repro --pull <stage>`` runs with: only ``stage`` (and stages DVC always re-runs) may execute
    (no ``stage``: every other one is restored); training mirrors its checkpoint to the run's URL."""
    always = [name for name, spec in load_stages(workspace / "dvc.yaml").items() if spec.always_changed]
    return {
        STAGES_TO_RUN_ENV: ",".join([stage, *always] if stage else always),
        CHECKPOINT_URL_ENV: settings.checkpoint_url(workspace),
        # one download cache (and trust-on-first-use record) per worker, not per run: the project directory a
        # worker parsed the DAG from may be read-only (a mounted checkout)
        CACHE_ENV: os.environ.get(CACHE_ENV) or str(workspace.parent / ".downloads"),
    }


def push_stage_outputs(stage: str) -> int:
    """What ``dvc push --run-cache <stage>`` uploads (the stage's cached outputs and the run-cache entries) and
    the objects of its ``cache: false`` outputs (reports/*.json), in one DVC process: the number of files sent.

    Run in the workspace (DVC resolves stage names against the current directory). ``dvc push --run-cache``
    (DVC 3.67) uploads the run-cache entries, which name the uncached objects, but not the objects themselves,
    so restoring the stage on another worker would fail; the second upload closes that gap. One process instead
    of two saves a DVC start-up, a repo load and an S3 session per task (issue 26: 3.4 s a task here)."""
    from dvc.repo import Repo

    with Repo() as repo:
        sent = repo.push(targets=[stage], run_cache=True)
        (target,) = repo.stage.collect(stage)
        hashes = [out.hash_info for out in target.outs if not out.use_cache and out.hash_info]
        result = repo.cloud.push(hashes)
    if result.failed:
        raise RemoteError(f"pushing the reports of stage {stage} to the DVC remote failed for {len(result.failed)}")
    return sent + len(result.transferred)


def push_experiment(settings: RemoteSettings, workspace: Path, name: str) -> str:
    """Push the experiment ``name`` saved in ``workspace`` (``refs/exps/<baseline>/<name>``) to the git remote,
    replacing an earlier save of the same run (a retried task); returns the ref. The outputs its dvc.lock names
    are on the DVC remote already, pushed by the tasks that made them."""
    refs = _command(["git", "for-each-ref", "--format=%(refname)", "refs/exps/"], workspace, "git for-each-ref")
    found = [line for line in refs.splitlines() if line.endswith(f"/{name}")]
    if len(found) != 1:
        raise RemoteError(
            f"experiment {name} is {len(found)} refs in {workspace} ({', '.join(found) or 'none'}), not one: "
            "`dvc exp save` did not save it there, or saved it on two baselines"
        )
    (ref,) = found
    with git_credentials(settings.git_url) as (url, environment):
        _command(
            ["git", "push", "--quiet", "--force", url, f"{ref}:{ref}"],
            workspace,
            f"pushing experiment {name} to {settings.shown_git_url}",
            environment,
        )
    return ref


def repro_commands(stage: str, options: list[str] | None = None) -> list[list[str]]:
    """The stage's own code is the run's commit (DVC starts it in the workspace, whose directory comes first on
    ``sys.path``); the push is the worker's, like the task calling it: ``-P`` keeps the workspace off
    ``sys.path``, so a worker image newer or older than the run's commit still pushes with the code it expects."""
    return [
        [sys.executable, "-m", "dvc", "repro", "--pull", *(options or []), stage],
        [sys.executable, "-P", "-m", "pipelines.orchestration.distributed", "push", stage],
    ]


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "push":
        raise SystemExit(f"usage: python -m {__spec__.name} push <stage>")
    print(f"{push_stage_outputs(sys.argv[2])} files pushed to the DVC remote")
