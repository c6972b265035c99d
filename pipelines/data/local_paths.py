"""The files a ``dataset.name: local`` run reads, resolved inside the data root.

Apart from the data readers (pandas) because the ``local_files`` stage runs on every ``dvc repro``, in every
Airflow task of a distributed run: importing pandas there was 0.6 s of each task's start-up for a stage that only
hashes a few files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.common.errors import InputError
from pipelines.common.project import DATA_ROOT_ENV, data_root
from pipelines.config import ConfigError
from pipelines.data.registry import SPLITS

if TYPE_CHECKING:
    from pipelines.config import Params


class MissingDataFile(InputError, FileNotFoundError):
    """A ``dataset.local.*`` path names no file in the data root."""


def data_root_hint() -> str:
    """Which data root applies, without its path (messages reach task logs and webhooks): a root set in the
    environment that the user forgot about is the usual reason a file that is plainly there is not found."""
    if os.environ.get(DATA_ROOT_ENV):
        return f"({DATA_ROOT_ENV}, as set in this environment)"
    return f"(data/local in the project; {DATA_ROOT_ENV} names another)"


def local_files(params: Params, root: Path | None = None) -> dict[str, tuple[str, Path]]:
    """``{split: (path as written in params, resolved path)}`` for ``dataset.name: local``, each path relative
    to the data root (``root``, default :func:`~pipelines.common.project.data_root`; the same from an Airflow
    run's workspace). Empty for registry datasets.

    The params already refuse absolute paths, ``~`` and ``..``; a symlink inside the data root that leads out
    of it is refused here, so a DAG trigger can name nothing the data root does not hold."""
    if params.dataset.name != "local":
        return {}
    hint = data_root_hint() if root is None else "(the data root this run was given)"
    root = (root or data_root()).resolve()
    found = {}
    for split in SPLITS:
        given = getattr(params.dataset.local, split)
        if given is None:
            continue
        path = (root / given).resolve()
        if not path.is_relative_to(root):
            raise ConfigError(f"'dataset.local.{split}' ({given}) leads outside the data root {hint}")
        if not path.is_file():
            raise MissingDataFile(f"dataset.local.{split}: {given} is not a file in the data root {hint}")
        found[split] = (given, path)
    return found
