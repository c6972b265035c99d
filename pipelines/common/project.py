"""Where the project is: the directory whose ``mlruns/``, local data files and ``.runs/`` belong to it.

``TEXTFLOW_PROJECT_ROOT`` when set (Airflow sets it for the per-run workspaces, so every workspace logs to one
MLflow store and finds the user's local data files), else the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV = "TEXTFLOW_PROJECT_ROOT"
DATA_ROOT_ENV = "TEXTFLOW_DATA_ROOT"


def project_root() -> Path:
    return Path(os.environ.get(ROOT_ENV) or Path.cwd()).resolve()


def data_root() -> Path:
    """Where ``dataset.local.*`` files are found: ``TEXTFLOW_DATA_ROOT``, else ``data/local`` in the project.

    Every local path is read relative to it and may not leave it (pipelines/config/schema.py refuses absolute
    paths, ``~`` and ``..``), because a DAG trigger may set those keys and must not name a file of the worker's
    (docker/.env, /proc/self/environ) that the pipeline would then copy into its outputs and MLflow."""
    return Path(os.environ.get(DATA_ROOT_ENV) or project_root() / "data" / "local").resolve()
