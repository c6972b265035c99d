"""A throw-away copy of the project for a benchmark: the tracked files as they are in the working tree (no
dvc.lock, so every stage runs), dotted params overrides applied, in a fresh git repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from pipelines.config import set_dotted
from pipelines.config.yaml_reader import load_yaml

ROOT = Path(__file__).resolve().parents[1]


def copy_project(directory: Path, overrides: dict[str, Any]) -> Path:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file() and name != "dvc.lock":
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, directory / name)
    write_params_with(directory / "params.yaml", directory / "params.yaml", overrides)
    subprocess.run(["git", "init", "-q"], cwd=directory, check=True)
    return directory


def write_params_with(source: Path, target: Path, overrides: dict[str, Any]) -> Path:
    """``source``'s params with dotted ``overrides`` applied, written to ``target`` (which may be ``source``)."""
    params = load_yaml(source.read_text())
    for key, value in overrides.items():
        set_dotted(params, key, value)
    target.write_text(yaml.safe_dump(params, sort_keys=False))
    return target
