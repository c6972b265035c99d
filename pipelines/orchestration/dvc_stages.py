"""The stage graph, read from dvc.yaml so the DAG never lists the stages a second time.

A stage depends on another when one of its deps is, contains or lies inside one of the other's outs.
``${paths.x}`` references are resolved from dvc.yaml's own ``vars``; other templating is not needed for
deps and outs here and is rejected loudly rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

VARIABLE = re.compile(r"\$\{([\w.]+)\}")


@dataclass(frozen=True)
class Stage:
    name: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]


def load_stages(dvc_yaml: Path) -> dict[str, Stage]:
    """Stages in dvc.yaml order."""
    document = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))
    variables: dict = {}
    for entry in document.get("vars", []):
        if isinstance(entry, dict):
            variables.update(entry)
    stages = {}
    for name, spec in document["stages"].items():
        outs = [_path(item, variables) for section in ("outs", "metrics", "plots") for item in spec.get(section, [])]
        deps = [_path(item, variables) for item in spec.get("deps", [])]
        stages[name] = Stage(name, tuple(deps), tuple(outs))
    return stages


def _path(item: str | dict, variables: dict) -> str:
    text = item if isinstance(item, str) else next(iter(item))

    def resolve(match: re.Match) -> str:
        node = variables
        for key in match.group(1).split("."):
            if not isinstance(node, dict) or key not in node:
                raise ValueError(f"dvc.yaml: cannot resolve ${{{match.group(1)}}} from vars")
            node = node[key]
        return str(node)

    return VARIABLE.sub(resolve, text).rstrip("/")


def _inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent + "/") or parent.startswith(path + "/")


def upstream_stages(stages: dict[str, Stage]) -> dict[str, list[str]]:
    """``{stage: [stages whose outputs it reads]}``."""
    return {
        stage.name: [
            other.name
            for other in stages.values()
            if other.name != stage.name and any(_inside(dep, out) for dep in stage.deps for out in other.outs)
        ]
        for stage in stages.values()
    }
