"""A copy of the training checkpoint in object storage, so a retry on another worker resumes where the killed try
stopped.

On one machine the checkpoint file in the run's workspace is enough: a retry finds it there. Across workers the
retry starts in a fresh workspace, so a distributed task sets ``TEXTFLOW_CHECKPOINT_URL`` (one URL per DAG run,
e.g. ``s3://bucket/checkpoints/<dag run>/checkpoint.pt``): training downloads it before the first epoch when the
workspace has none and uploads every checkpoint it writes. The loop still resumes only a checkpoint whose
fingerprint matches the run's inputs and params, so a stale or foreign copy is ignored, never trusted.
fsspec (with s3fs, which dvc-s3 brings) reads the URL; the S3 endpoint comes from ``AWS_ENDPOINT_URL``.

Uploads run in the background (pipelines/common/background.py), newest checkpoint only, retried through an
outage of the store: a slow or unreachable store never stalls training. A checkpoint that cannot be uploaded
costs a warning, not the training: the workspace still has it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from tenacity import Retrying, stop_after_delay, wait_exponential

from pipelines.common.background import BackgroundSender, outage_seconds
from pipelines.common.errors import PipelineError

log = logging.getLogger(__name__)
CHECKPOINT_URL_ENV = "TEXTFLOW_CHECKPOINT_URL"
RESTORE_SECONDS = 300


class MirrorError(PipelineError, RuntimeError):
    """The stored checkpoint could not be read back."""


@dataclass
class CheckpointMirror:
    url: str | None = None
    _uploads: BackgroundSender | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_env(cls) -> CheckpointMirror:
        return cls(os.environ.get(CHECKPOINT_URL_ENV) or None)

    def _filesystem(self):
        import fsspec

        protocol = fsspec.core.split_protocol(self.url)[0] or "file"
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        options = {}
        if protocol == "s3" and endpoint:
            options = {"client_kwargs": {"endpoint_url": endpoint}}
        elif protocol in ("file", "local"):
            # a DVC remote may be a directory (a shared disk); its per-run folder does not exist yet
            options = {"auto_mkdir": True}
        return fsspec.core.url_to_fs(self.url, **options)[0]

    def for_member(self, member: int) -> CheckpointMirror:
        """The mirror of one ensemble member's checkpoint (member 0 keeps the run's URL)."""
        return CheckpointMirror(None if self.url is None else member_name(self.url, member))

    def restore(self, local: Path) -> None:
        """Fetch the stored checkpoint when the workspace has none (a retry on a fresh worker), retrying for
        a few minutes when the store does not answer: starting over instead would throw the epochs away."""
        if self.url is None or local.exists():
            return
        try:
            for attempt in Retrying(
                stop=stop_after_delay(RESTORE_SECONDS), wait=wait_exponential(min=1, max=30), reraise=True
            ):
                with attempt:
                    self._fetch(local)
        except Exception as error:
            raise MirrorError(
                f"the checkpoint mirror {self._shown()} did not answer for {RESTORE_SECONDS}s ({error}); "
                "check the object store (AWS_ENDPOINT_URL) and retry the task"
            ) from None

    def _fetch(self, local: Path) -> None:
        filesystem = self._filesystem()
        filesystem.invalidate_cache()
        if not filesystem.exists(self.url):
            return
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(local.name + ".download")
        filesystem.get(self.url, str(partial))
        partial.replace(local)
        log.info("checkpoint restored from object storage (%d bytes)", local.stat().st_size)

    def upload(self, local: Path) -> None:
        """Queue the newest checkpoint for upload (an older one still waiting is dropped)."""
        if self.url is None:
            return
        if self._uploads is None:
            self._uploads = BackgroundSender(
                "checkpoint mirror", self._put, give_up_after=outage_seconds(), latest_only=True
            )
        self._uploads.put(local)

    def _put(self, local: Path) -> None:
        self._filesystem().put(str(local), self.url)

    def close(self, timeout: float | None = None) -> bool:
        """Wait (bounded) for the last upload; False, with a warning, when it did not reach the store."""
        if self._uploads is None:
            return True
        if self._uploads.close(outage_seconds() if timeout is None else timeout):
            return True
        log.warning(
            "the last checkpoint did not reach %s; a retry on another worker would resume from an earlier one "
            "(this workspace has the newest)",
            self._shown(),
        )
        return False

    def _shown(self) -> str:
        """The store as a log may show it: scheme and bucket."""
        scheme, _, rest = (self.url or "").partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"


def member_name(path: str, member: int) -> str:
    """``.../checkpoint.pt`` for member 0, ``.../checkpoint.member1.pt`` for member 1 (a path or a URL)."""
    if member == 0:
        return path
    stem, dot, suffix = path.rpartition(".")
    return f"{stem}.member{member}.{suffix}" if dot and "/" not in suffix else f"{path}.member{member}"
