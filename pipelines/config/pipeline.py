"""The pipeline's other source of truth, dvc.yaml: its stages (commands, deps, outs, params), their graph and
its paths, read so that nothing lists them a second time (the DAG, the checkpoint fingerprint, the tools).

A stage depends on another when one of its deps is, contains or lies inside one of the other's outs.
``${paths.x}`` references are resolved from dvc.yaml's own ``vars``; other templating is not needed for
deps and outs here and is rejected loudly rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipelines.config.messages import ConfigError
from pipelines.config.yaml_reader import load_yaml

VARIABLE = re.compile(r"\$\{([\w.]+)\}")


@dataclass(frozen=True)
class Stage:
    name: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    params: tuple[str, ...] = ()
    always_changed: bool = False
    cmd: str = ""
    uncached: tuple[str, ...] = ()
    """The outs with ``cache: false``: files meant for git (the small metrics reports), not DVC's cache."""


def parse_lock(text: str) -> dict:
    """A ``dvc.lock``'s text as DVC wrote it (YAML 1.2: :mod:`pipelines.config.yaml_reader`)."""
    return load_yaml(text) or {}


def load_stages(dvc_yaml: Path) -> dict[str, Stage]:
    """Stages in dvc.yaml order."""
    return parse_stages(dvc_yaml.read_text(encoding="utf-8"))


def _variables(document: dict) -> dict:
    variables: dict = {}
    for entry in document.get("vars", []):
        if isinstance(entry, dict):
            variables.update(entry)
    return variables


def dvc_paths(dvc_yaml: Path) -> dict[str, str]:
    """dvc.yaml's ``vars.paths``: where the stages write (tools outside DVC, like predict, read them here)."""
    if not dvc_yaml.exists():
        raise FileNotFoundError(f"{dvc_yaml} not found: run this from the project root")
    return paths_from_text(dvc_yaml.read_text(encoding="utf-8"))


def paths_from_text(text: str) -> dict[str, str]:
    """``vars.paths`` from dvc.yaml's text (e.g. of a commit)."""
    return dict(_variables(load_yaml(text))["paths"])


def parse_stages(text: str) -> dict[str, Stage]:
    """Stages in dvc.yaml order, from dvc.yaml's text (e.g. of a commit)."""
    document = load_yaml(text)
    variables = _variables(document)
    stages = {}
    for name, spec in document["stages"].items():
        outs = [_path(item, variables) for section in ("outs", "metrics", "plots") for item in spec.get(section, [])]
        deps = [_path(item, variables) for item in spec.get("deps", [])]
        params = [item for item in spec.get("params", []) if isinstance(item, str)]
        command = _path(" ".join(spec["cmd"].split()), variables)
        uncached = [
            _path(item, variables)
            for section in ("outs", "metrics", "plots")
            for item in spec.get(section, [])
            if isinstance(item, dict) and (next(iter(item.values())) or {}).get("cache") is False
        ]
        stages[name] = Stage(
            name, tuple(deps), tuple(outs), tuple(params), bool(spec.get("always_changed")), command, tuple(uncached)
        )
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


def ancestors(stage: str, upstream: dict[str, list[str]], order: list[str]) -> list[str]:
    """Every stage ``stage`` transitively reads from, in dvc.yaml order."""
    found: set[str] = set()
    pending = list(upstream[stage])
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending.extend(upstream[name])
    return [name for name in order if name in found]


def stages_before(dvc_yaml: Path, stage: str) -> list[str]:
    """The stages ``stage`` transitively reads from, per ``dvc_yaml`` (empty when there is no dvc.yaml)."""
    if not dvc_yaml.exists():
        return []
    stages = load_stages(dvc_yaml)
    return ancestors(stage, upstream_stages(stages), list(stages))


SPLITS_STAGE = "validate"
"""The stage that decides which examples are trained on, validated on and scored: it and the stages before it."""


def split_params(stages: dict[str, Stage]) -> list[str]:
    """The ``params:`` of :data:`SPLITS_STAGE` and every stage before it. Trainings a sweep compares must be
    scored on the same validation examples, so a grid or search may vary none of these; what the stages after
    the splits read (cleaning, tokens, vectors, the model) it may, each training re-running those stages."""
    names = [*ancestors(SPLITS_STAGE, upstream_stages(stages), list(stages)), SPLITS_STAGE]
    return [param for name in names for param in stages[name].params]


def refuse_split_key(where: str, key: str, split_stage_params: Iterable[str]) -> None:
    """The one message for a grid or search that would vary a key :func:`split_params` holds fixed."""
    if reads(split_stage_params, key):
        raise ConfigError(
            f"{where}: '{key}' is read by {SPLITS_STAGE} or a stage before it (see dvc.yaml), which decide the "
            "examples every training is validated on, so trainings that differ in it cannot be compared; vary "
            "keys the later stages read, e.g. clean.style, tokenize.method, model.type, train.learning_rate"
        )


def reads(stage_params: Iterable[str], key: str) -> bool:
    """Whether a stage whose dvc.yaml ``params:`` are ``stage_params`` reads the dotted ``key``."""
    return any(key == param or key.startswith(param + ".") for param in stage_params)
