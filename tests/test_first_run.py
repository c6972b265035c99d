"""``make run`` on a fresh clone, as README tells a new user to: its output is what a user needs to read.

No warning from a library (DVC, Great Expectations, MLflow) and no temporary path; every output the closing
summary names exists; and README's "Measured" row for the demo is what the run prints.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_project, run, tool_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> tuple[Path, str]:
    project = copy_project(tmp_path_factory.mktemp("first-run") / "project", {})
    (project / ".venv").symlink_to(ROOT / ".venv")  # installed already: `make setup` finds its stamp and skips
    result = run(["make", "run"], project, env=tool_env({"MLFLOW_TRACKING_URI": ""}), timeout=1200)
    return project, result.stdout + result.stderr


def test_make_run_prints_no_warning_and_no_temporary_path(first_run):
    _, output = first_run
    noisy = [line for line in output.splitlines() if re.search(r"warning", line, re.IGNORECASE)]
    assert not noisy, "a first run must not show library warnings:\n" + "\n".join(noisy)
    assert "/tmp/" not in output.replace(str(first_run[0]), "<project>"), "no temporary directory in the output"
    assert "\x1b[" not in output, "no raw terminal colour codes"


def test_every_output_the_summary_names_exists(first_run):
    project, output = first_run
    block = output[output.index("  outputs:") :].split("  more:")[0].splitlines()[1:]
    paths = [Path(line.rsplit(None, 1)[-1]) for line in block if line.strip()]
    assert len(paths) >= 5 and all(path.is_absolute() for path in paths), block
    missing = [str(path) for path in paths if not path.exists()]
    assert not missing, f"the summary names outputs that do not exist: {missing}"


def test_readme_reports_what_make_run_gives(first_run):
    _, output = first_run
    accuracy, macro_f1 = re.search(r"test accuracy (\d\.\d+)\s+macro-F1 (\d\.\d+)", output).groups()
    row = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| demo (800) |"))
    assert f"{100 * float(accuracy):.1f}%" in row and f"{100 * float(macro_f1):.1f}%" in row, (row, accuracy, macro_f1)
