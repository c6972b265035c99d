"""What a checkpoint must match to be resumed: exactly what DVC re-runs the train stage for.

The train stage's ``deps`` and ``params`` in dvc.yaml are read, not listed again here: the bytes of every dep
(code and data, directories walked in sorted order, ``__pycache__`` skipped) and the values of every declared
param (less :data:`~pipelines.config.PERFORMANCE_ONLY` keys), plus the resolved device and precision (a CPU
checkpoint holds no GradScaler state that a CUDA mixed-precision run could continue). So whenever a change makes
DVC train again (an edited ``pipelines/tasks`` module, a new param), the old checkpoint is ignored instead of
resumed into a model that mixes old-code epochs with new-code ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipelines.config import PERFORMANCE_ONLY, Params, flatten
from pipelines.config.pipeline import load_stages

SKIPPED_DIRECTORIES = {"__pycache__"}


def declared_values(params: Params, declared: Iterable[str]) -> dict[str, Any]:
    """The values of every params key under the ``declared`` keys (``train`` covers ``train.epochs``)."""
    declared = list(declared)
    return {
        key: value
        for key, value in flatten(params).items()
        if key not in PERFORMANCE_ONLY and any(key == item or key.startswith(f"{item}.") for item in declared)
    }


def files_under(paths: Iterable[Path]) -> list[Path]:
    """Every file of ``paths`` (a directory: its files, recursively), in a fixed order."""
    found = []
    for path in sorted(paths):
        if path.is_dir():
            found += sorted(
                item
                for item in path.rglob("*")
                if item.is_file() and not SKIPPED_DIRECTORIES & set(item.relative_to(path).parts)
            )
        elif path.exists():
            found.append(path)
    return found


def fingerprint(paths: Iterable[Path], settings: dict[str, Any], base: Path | None = None) -> str:
    """sha256 over ``settings`` (JSON) and the names (relative to ``base``, so the same in every workspace) and
    bytes of every file under ``paths``."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in files_under(paths):
        name = path.relative_to(base) if base is not None and path.is_relative_to(base) else path
        digest.update(name.as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def train_fingerprint(
    params: Params, device_type: str, mixed_precision: bool, dvc_yaml: Path = Path("dvc.yaml")
) -> str:
    """The fingerprint of one training (one ensemble member: its ``train.seed`` is in ``params``), from the
    train stage of ``dvc_yaml``; paths are relative to its directory."""
    stage = load_stages(dvc_yaml)["train"]
    base = dvc_yaml.parent
    settings = {
        "params": declared_values(params, stage.params),
        "device": device_type,
        "mixed_precision": mixed_precision,
    }
    return fingerprint([base / dep for dep in stage.deps], settings, base)
