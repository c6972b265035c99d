"""The files a ``dataset.name: local`` run reads, resolved inside the data root.

Apart from the data readers (pandas) because the ``local_files`` stage runs on every ``dvc repro``, in every
Airflow task of a distributed run: importing pandas there was 0.6 s of each task's start-up for a stage that only
hashes a few files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.common.project import DATA_ROOT_ENV, data_root
from pipelines.config import ConfigError
from pipelines.data.registry import SPLITS

if TYPE_CHECKING:
    from pipelines.config import Params

DATA_ROOT_HINT = f"({DATA_ROOT_ENV}, default data/local in the project)"


def local_files(params: Params, root: Path | None = None) -> dict[str, tuple[str, Path]]:
    """``{split: (path as written in params, resolved path)}`` for ``dataset.name: local``, each path relative
    to the data root (``root``, default :func:`~pipelines.common.project.data_root`; the same from an Airflow
    run's workspace). Empty for registry datasets.

    The params already refuse absolute paths, ``~`` and ``..``; a symlink inside the data root that leads out
    of it is refused here, so a DAG trigger can name nothing the data root does not hold."""
    if params.dataset.name != "local":
        return {}
    root = (root or data_root()).resolve()
    found = {}
    for split in SPLITS:
        given = getattr(params.dataset.local, split)
        if given is None:
            continue
        path = (root / given).resolve()
        if not path.is_relative_to(root):
            raise ConfigError(f"'dataset.local.{split}' ({given}) leads outside the data root {DATA_ROOT_HINT}")
        if not path.is_file():
            raise FileNotFoundError(f"dataset.local.{split}: {given} is not a file in the data root {DATA_ROOT_HINT}")
        found[split] = (given, path)
    return found
