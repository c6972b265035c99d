"""Atomic file output shared by every stage.

A stage that dies half-way must leave either the old output or nothing, never a truncated file that the
next stage (or ``dvc commit``) would take as valid, so every write goes to a temporary sibling first and is
renamed into place; ``os.replace`` is atomic on one filesystem.

The temporary files get the permissions a plain ``open()`` would have given (0666/0777 less the umask), not
mkstemp's private 0600/0700: outputs land in a DVC cache or a container volume that other users read.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary_path = Path(temporary)
    temporary_path.chmod(0o666 & ~current_umask())
    try:
        yield temporary_path
        os.replace(temporary_path, target)
    finally:
        temporary_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Build a directory under a temporary name and swap it onto ``target`` when complete."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    temporary.chmod(0o777 & ~current_umask())
    try:
        yield temporary
        if target.exists():
            shutil.rmtree(target)
        os.replace(temporary, target)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)


def current_umask() -> int:
    """The process umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(target: str | Path, data: Any) -> None:
    with atomic_path(target) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")


def save_torch(target: str | Path, state: Any) -> None:
    """``torch.save`` atomically and byte-reproducibly: saving to a path names the zip's records after the
    (random) temporary file, so identical states would give different bytes and DVC would see a new output.
    Saving through a file handle names them ``archive/``."""
    import torch

    with atomic_path(target) as temporary, open(temporary, "wb") as handle:
        torch.save(state, handle)


def save_arrays(target: str | Path, **arrays: Any) -> None:
    """``np.savez`` atomically and byte-reproducibly: numpy stamps each zip member with the current time.

    Each member is written whole (``writestr``, its size known up front) rather than streamed with
    ``force_zip64``: how that flag is written changed between Python 3.11 patch releases (the version-needed
    field is 20 in 3.11.2, 45 in 3.11.7), so a worker image and a laptop made different bytes from the same
    arrays, and a dvc.lock committed on one named outputs the other could never restore. Zip64 is still used,
    by both, for a member over 4 GiB."""
    import io
    import zipfile

    import numpy as np

    with atomic_path(target) as temporary, zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED) as bundle:
        for name, array in arrays.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.external_attr = 0o644 << 16
            serialized = io.BytesIO()
            np.lib.format.write_array(serialized, np.asanyarray(array), allow_pickle=False)
            bundle.writestr(member, serialized.getbuffer())
