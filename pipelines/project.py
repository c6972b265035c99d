"""Where the project is: the directory whose ``mlruns/``, local data files and ``.runs/`` belong to it.

``TEXTFLOW_PROJECT_ROOT`` when set (Airflow sets it for the per-run workspaces, so every workspace logs to one
MLflow store and finds the user's local data files), else the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV = "TEXTFLOW_PROJECT_ROOT"


def project_root() -> Path:
    return Path(os.environ.get(ROOT_ENV) or Path.cwd()).resolve()
