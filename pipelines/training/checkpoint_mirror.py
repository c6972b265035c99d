"""A copy of the training checkpoint in object storage, so a retry on another worker resumes where the killed try
stopped.

On one machine the checkpoint file in the run's workspace is enough: a retry finds it there. Across workers the
retry starts in a fresh workspace, so a distributed task sets ``TEXTFLOW_CHECKPOINT_URL`` (one URL per DAG run,
e.g. ``s3://bucket/checkpoints/<dag run>/checkpoint.pt``): training downloads it before the first epoch when the
workspace has none and uploads every checkpoint it writes. The loop still resumes only a checkpoint whose
fingerprint matches the run's inputs and params, so a stale or foreign copy is ignored, never trusted.
fsspec (with s3fs, which dvc-s3 brings) reads the URL; the S3 endpoint comes from ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
CHECKPOINT_URL_ENV = "TEXTFLOW_CHECKPOINT_URL"


@dataclass(frozen=True)
class CheckpointMirror:
    url: str | None = None

    @classmethod
    def from_env(cls) -> CheckpointMirror:
        return cls(os.environ.get(CHECKPOINT_URL_ENV) or None)

    def _filesystem(self):
        import fsspec

        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        options = {"client_kwargs": {"endpoint_url": endpoint}} if endpoint and self.url.startswith("s3://") else {}
        return fsspec.core.url_to_fs(self.url, **options)[0]

    def for_member(self, member: int) -> CheckpointMirror:
        """The mirror of one ensemble member's checkpoint (member 0 keeps the run's URL)."""
        return CheckpointMirror(None if self.url is None else member_name(self.url, member))

    def restore(self, local: Path) -> None:
        """Fetch the stored checkpoint when the workspace has none (a retry on a fresh worker)."""
        if self.url is None or local.exists():
            return
        filesystem = self._filesystem()
        if not filesystem.exists(self.url):
            return
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(local.name + ".download")
        filesystem.get(self.url, str(partial))
        partial.replace(local)
        log.info("checkpoint restored from object storage (%d bytes)", local.stat().st_size)

    def upload(self, local: Path) -> None:
        if self.url is not None:
            self._filesystem().put(str(local), self.url)


def member_name(path: str, member: int) -> str:
    """``.../checkpoint.pt`` for member 0, ``.../checkpoint.member1.pt`` for member 1 (a path or a URL)."""
    if member == 0:
        return path
    stem, dot, suffix = path.rpartition(".")
    return f"{stem}.member{member}.{suffix}" if dot and "/" not in suffix else f"{path}.member{member}"
