"""dvc.yaml declares what each stage really reads: every params key and every ``pipelines`` module.

DVC decides what to re-run from a stage's declared ``params`` and ``deps`` only. A key a stage reads but does not
declare (``clean.style`` once) makes ``dvc exp run -S key=...`` silently reuse stale outputs; an undeclared
module lets a code change ship without a re-run. So each stage command of dvc.yaml is run here as DVC runs it,
under tests/stage_recorder.py, for a classifier, a classifier reading word vectors and a language model, and
what it read is compared with what it declares.

Allowed without a declaration, by name: :data:`pipelines.config.PERFORMANCE_ONLY` keys (they change speed, not
outputs); a dump of the whole config (every param logged to the MLflow run to describe it); the modules every
stage loads to start (``pipelines.stages``: argument parsing, error lines, timings; ``pipelines.config``:
validation of params.yaml, whose values dvc.yaml tracks), except :data:`WRITES_OUTPUTS`; :data:`OBSERVATION_ONLY`
modules, which change what a user sees and when MLflow hears of it, never an output; and package ``__init__``
files holding only a docstring.
"""

from __future__ import annotations

import ast
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.config import PERFORMANCE_ONLY, RESOLVED_FROM, flatten, load_params
from pipelines.config.pipeline import load_stages
from tests.conftest import ROOT, clone_project, tool_env
from tests.stage_recorder import ROOT_DUMP

pytestmark = pytest.mark.slow

EMBEDDINGS = {"model": {"embedding_init": "static", "embedding_dim": 16}, "embed": {"dim": 16, "epochs": 1}}
LANGUAGE_MODEL = {
    "task": "language_model",
    "embed": {"method": "none"},
    "language_model": {"embedding_dim": 16, "hidden_size": 16, "num_layers": 1, "bptt": 20},
    "train": {"epochs": 1},
}
OBSERVATION_ONLY = {"pipelines/common/progress.py", "pipelines/common/background.py", "pipelines/common/settings.py"}
# loaded by every stage to start, and it decides the bytes of their outputs (how JSON and arrays are written):
# a change to it must re-run them
WRITES_OUTPUTS = {"pipelines/common/io.py"}
# every code path that reads params: the reproduced project leaves out the Data Docs site, whose evaluate-stage
# validation reads validate.*
EVERY_PATH = {"tracking": {"data_docs": True}}
RUNS = [  # (params on top of the reproduced project's, the stages whose reads they change)
    ({"train": {"epochs": 1}, **EVERY_PATH}, None),
    ({"train": {"epochs": 1}, **EVERY_PATH, **EMBEDDINGS}, ["embed", "train", "evaluate"]),
    (
        LANGUAGE_MODEL | EVERY_PATH,
        ["validate", "clean", "tokenize", "embed", "train", "evaluate", "keywords", "register"],
    ),
]


@pytest.fixture(scope="module")
def records(reproduced_project, tmp_path_factory) -> dict[str, dict[str, set[str]]]:
    """``{stage: {"params": keys read, "modules": files imported (relative to the project)}}`` over every run."""
    project = clone_project(reproduced_project, tmp_path_factory.mktemp("declared") / "project")
    stages = load_stages(project / "dvc.yaml")
    base = (project / "params.yaml").read_text()
    found: dict[str, dict[str, set[str]]] = {name: {"params": set(), "modules": set()} for name in stages}
    for update, names in RUNS:
        (project / "params.yaml").write_text(base)
        write_params_on(project, update)
        for name in names or list(stages):
            record = project / f"record-{name}.json"
            command = [sys.executable, "-m", "tests.stage_recorder", str(record), *shlex.split(stages[name].cmd)]
            result = subprocess.run(
                command,
                cwd=project,
                env=tool_env({"MLFLOW_TRACKING_URI": "", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}),
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert result.returncode == 0, f"{name} failed under {update}:\n{result.stdout}\n{result.stderr}"
            read = json.loads(record.read_text())
            found[name]["params"] |= set(read["params"])
            found[name]["modules"] |= {
                str(Path(file).relative_to(project.resolve()))
                for file in read["modules"]
                if Path(file).is_relative_to(project.resolve())
            }
    found["_startup"] = {"modules": startup_modules(project)}
    return found


def write_params_on(project: Path, update: dict) -> None:
    """The reproduced project's params.yaml with ``update`` merged in (``write_params`` starts from ROOT's)."""
    import yaml

    from tests.conftest import merge

    params = yaml.safe_load((project / "params.yaml").read_text())
    (project / "params.yaml").write_text(yaml.safe_dump(merge(params, update), sort_keys=False))


def startup_modules(project: Path) -> set[str]:
    script = (
        "import sys, pipelines.stages, pipelines.config; "
        "print('\\n'.join(m.__file__ for n, m in list(sys.modules.items()) "
        "if n.split('.')[0] == 'pipelines' and getattr(m, '__file__', None)))"
    )
    listed = subprocess.run([sys.executable, "-c", script], cwd=project, capture_output=True, text=True, check=True)
    return {str(Path(line).resolve().relative_to(project.resolve())) for line in listed.stdout.split()}


def leaves(keys: set[str]) -> set[str]:
    """Dotted keys as leaves: a dumped section stands for every key in it; a resolved key for its sources too."""
    every = flatten(load_params(Path(__file__).resolve().parents[1] / "params.yaml"))
    found = set()
    for key in keys - {ROOT_DUMP}:
        found |= {leaf for leaf in every if leaf == key or leaf.startswith(f"{key}.")}
        found |= set(RESOLVED_FROM.get(key, ()))
    return found


def docstring_only(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return path.name == "__init__.py" and all(isinstance(node, ast.Expr) for node in body)


def declared(key: str, params: tuple[str, ...]) -> bool:
    return any(key == item or key.startswith(f"{item}.") for item in params)


def stage_names() -> list[str]:
    return list(load_stages(Path(__file__).resolve().parents[1] / "dvc.yaml"))


@pytest.mark.parametrize("stage", stage_names())
def test_every_param_a_stage_reads_is_declared_in_dvc_yaml(records, stage):
    params = load_stages(Path(__file__).resolve().parents[1] / "dvc.yaml")[stage].params
    missing = sorted(
        key for key in leaves(records[stage]["params"]) - set(PERFORMANCE_ONLY) if not declared(key, params)
    )
    assert not missing, f"stage {stage} reads {missing} but dvc.yaml does not declare them in its params"


@pytest.mark.parametrize("stage", stage_names())
def test_every_module_a_stage_runs_is_declared_in_dvc_yaml(records, stage):
    deps = load_stages(Path(__file__).resolve().parents[1] / "dvc.yaml")[stage].deps
    modules = {
        module
        for module in records[stage]["modules"] - (records["_startup"]["modules"] - WRITES_OUTPUTS) - OBSERVATION_ONLY
        if not docstring_only(ROOT / module)
    }
    missing = sorted(
        module for module in modules if not any(module == dep or module.startswith(f"{dep}/") for dep in deps)
    )
    assert not missing, f"stage {stage} runs {missing} but dvc.yaml does not list them in its deps"


def test_the_recorder_sees_what_the_stages_read(records):
    """The comparison above is only as good as the recording: known reads must show up."""
    assert "clean.style" in leaves(records["clean"]["params"])
    assert "clean.style" in leaves(records["embed"]["params"]), "the embedding corpus is cleaned like the data"
    assert "dataset.name" in leaves(records["tokenize"]["params"]), "tokenize.method auto resolves from it"
    assert {"pipelines/stages/train.py", "pipelines/training/loop.py"} <= records["train"]["modules"]
    assert "validate.max_duplicate_rate" in leaves(records["evaluate"]["params"]), "the Data Docs site's validation"
