"""Run one stage command as DVC would, recording which params keys and which ``pipelines`` modules it reads.

    python -m tests.stage_recorder <record.json> python -m pipelines.stages.<name> --option value ...

``load_params`` is replaced, before the stage module is imported, by one that returns the validated params
wrapped in :class:`RecordingParams`: every field read through it is recorded by dotted key (a whole section
dumped with ``model_dump`` records the section). After the stage ends (or fails), the record holds those keys
and the source file of every ``pipelines`` module the process imported. tests/test_declared_inputs.py compares
both with the stage's ``params`` and ``deps`` in dvc.yaml.
"""

from __future__ import annotations

import importlib.util
import json
import runpy
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import pipelines.config

ROOT_DUMP = "*"
"""Recorded when the whole config is dumped: describing the run (MLflow params, the run's name), not
computing an output."""


def unwrap(value: Any) -> Any:
    return object.__getattribute__(value, "_target") if isinstance(value, RecordingParams) else value


class RecordingParams:
    def __init__(self, target: BaseModel, prefix: str, reads: set[str]):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_reads", reads)

    def __getattr__(self, name: str) -> Any:
        target, prefix, reads = self._target, self._prefix, self._reads
        value = getattr(target, name)
        if name in type(target).model_fields:
            key = prefix + name
            if isinstance(value, BaseModel):
                return RecordingParams(value, key + ".", reads)
            reads.add(key)
            return value
        if name in ("model_dump", "model_dump_json"):
            reads.add(prefix.rstrip(".") or ROOT_DUMP)
            return value
        if name == "model_copy":

            def model_copy(update: dict[str, Any] | None = None, **options: Any) -> RecordingParams:
                update = {key: unwrap(item) for key, item in (update or {}).items()}
                return RecordingParams(target.model_copy(update=update, **options), prefix, reads)

            return model_copy
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("params are frozen")


def main() -> None:
    record, command = Path(sys.argv[1]), sys.argv[2:]
    if command[:2] != ["python", "-m"]:
        raise SystemExit(f"usage: python -m tests.stage_recorder RECORD python -m MODULE ARGS...; got {command}")
    reads: set[str] = set()
    original = pipelines.config.load_params

    def load_params(*args: Any, **kwargs: Any) -> RecordingParams:
        return RecordingParams(original(*args, **kwargs), "", reads)

    pipelines.config.load_params = load_params
    module, sys.argv = command[2], command[2:]
    outcome = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit:
        outcome = exit.code or 0
    finally:
        files = sorted(
            {
                str(Path(loaded.__file__).resolve())
                for name, loaded in list(sys.modules.items())
                if name.split(".")[0] == "pipelines" and getattr(loaded, "__file__", None)
            }
            | {str(Path(importlib.util.find_spec(module).origin).resolve())}  # ran as __main__, not under its name
        )
        record.write_text(json.dumps({"params": sorted(reads), "modules": files, "exit": outcome}))
    raise SystemExit(outcome)


if __name__ == "__main__":
    main()
