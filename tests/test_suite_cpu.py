"""benchmarks/suite_cpu.py: the CPU of what a command starts is found, attributed to the process that spent it, and
named by what that process is."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks.suite_cpu import kind_of, measure, render

BURN_ONE_SECOND = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 1: pass\n"


def test_a_child_that_burns_a_second_of_cpu_is_attributed_that_second():
    parent = (
        f"import subprocess, sys; sys.exit(subprocess.run([sys.executable, '-c', {BURN_ONE_SECOND!r}]).returncode + 3)"
    )
    measured = measure([sys.executable, "-c", parent], interval=0.1)
    assert measured.returncode == 3
    burners = [
        cpu
        for command, cpu in measured.cpu_by_process.values()
        if command.startswith(f"{sys.executable} -c import time")
    ]
    assert len(burners) == 1 and burners[0] >= 0.8, measured.cpu_by_process
    assert measured.busy >= burners[0] * 0.9, "the machine was busy at least as long as the child"
    count, cpu = measured.by_kind()[Path(sys.executable).name]
    assert count >= 2 and cpu >= burners[0]
    assert "| not attributed" in render(measured, [sys.executable, "-c", parent])


@pytest.mark.parametrize(
    "command_line, kind",
    [
        ("python -m pipelines.stages.train --params=/tmp/pytest-of-x/params.yaml", "stage train"),
        (
            "/venv/bin/python -m tests.stage_recorder r.json python -m pipelines.stages.evaluate",
            "stage under tests/stage_recorder.py",
        ),
        ("/venv/bin/python -m dvc repro --single-item train", "dvc repro"),
        ("/venv/bin/python /venv/bin/dvc exp save --force", "dvc exp"),
        ("python -m pipelines.stages.local_files --out data/local_files.json", "stage local_files"),
        ("airflow worker -- 01a24e3b-f965", "airflow task process"),
        ("airflow api_server -- host:127.0.0.1 port:8080", "airflow api-server"),
        (
            "/venv/bin/python -m uvicorn --log-config /venv/site-packages/mlflow/server/uvicorn_log_config.yaml",
            "mlflow server (tracking or model serving)",
        ),
        ("git -C /tmp/pytest-of-x/project status", "git"),
        ("[pytest-xdist running] tests/test_airflow.py::test_x", "pytest (controller and workers)"),
        ("/usr/bin/some-tool --flag", "some-tool"),
    ],
)
def test_a_process_is_named_by_what_it_is_not_by_the_paths_it_was_given(command_line, kind):
    assert kind_of(command_line) == kind
