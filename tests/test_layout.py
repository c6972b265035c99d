"""The package reads as the flow, and imports run one way: no module imports from a layer above its own.

Layers, lowest first: shared plumbing, then params, then data and text, the learning code, the hyperparameter
search, tracking, serving, evaluation, the tasks that tie them together, the stages DVC runs, the orchestration
that runs stages, and the commands that use all of it (``reproduce``).
Function-level and annotation-only imports count too: a lazy import still ties the two modules together."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

LAYERS = [
    ("pipelines.common", "pipelines.data.registry"),
    ("pipelines.config",),
    ("pipelines.data", "pipelines.text"),
    ("pipelines.embeddings", "pipelines.training"),
    ("pipelines.search",),
    ("pipelines.models",),
    ("pipelines.tracking",),
    ("pipelines.serving",),
    ("pipelines.evaluation",),
    ("pipelines.tasks",),
    ("pipelines.stages",),
    ("pipelines.orchestration",),
    ("pipelines.reproduce",),
]
PACKAGE = ROOT / "pipelines"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    """The layer of the longest prefix that names ``module`` (``pipelines.data.registry`` before ``pipelines.data``)."""
    matches = [
        (len(prefix), index)
        for index, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    if not matches:
        raise AssertionError(f"{module} is in no layer of tests/test_layout.py; place it in one")
    return max(matches)[1]


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "pipelines":
                found |= {f"pipelines.{alias.name}" for alias in node.names}
            elif node.module.startswith("pipelines."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("pipelines.")}
    return found


MODULES = sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def test_the_top_level_holds_packages_only():
    loose = sorted(path.name for path in PACKAGE.glob("*.py") if path.name != "__init__.py")
    assert not loose, f"modules at the top of pipelines/ ({loose}): put each in the package of its concern"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: module_name(path))
def test_no_module_imports_from_a_layer_above_its_own(path):
    importer = module_name(path)
    if importer == "pipelines":
        return
    above = sorted(module for module in imported_modules(path) if layer(module) > layer(importer))
    assert not above, f"{importer} (layer {layer(importer)}) imports {above}, from a layer above it"
