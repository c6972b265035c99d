"""Where the test suite's CPU goes: every process ``make test`` starts, sampled while it runs and grouped by what
it is (a pipeline stage, a DVC command, an Airflow component, a service, the pytest workers).

Why CPU and not seconds per test: on two cores the suite keeps the machine busy from start to end, so its wall
time is its CPU seconds over the cores. A test that waits on a scheduler costs the run nothing while the other
worker has work; a process that imports torch and MLflow costs its seconds on every stage of every run. This
says which processes those are, so the suite's time is cut where it is spent.

Each process's CPU (user + system) is read every half second until it exits, so a process that lives less than
that (most ``git`` calls) is counted short or not at all: the table gives the machine's busy CPU beside what it
could attribute. Processes already running when the command started (the system's) are left out, processes
anyone else starts meanwhile are not: run it alone. The sampling itself costs a few percent of one core.

    python -m benchmarks.suite_cpu [--record] [--interval S] [-- COMMAND ...]

COMMAND defaults to ``python -m pytest -n 2``, what ``make test`` runs; ``--record`` appends the table to
``benchmarks/results/suite_cpu.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import psutil

from benchmarks.report import SUITE_CPU_RECORDS, rewrite_results_page

DEFAULT_COMMAND = [sys.executable, "-m", "pytest", "-n", "2"]
HEADER = "# Where the test suite's CPU goes\n\n`python -m benchmarks.suite_cpu --record`, alone on the machine.\n"

# (pattern over a process's command line, its kind; "{0}" is the pattern's first group): the first match names it.
KINDS: tuple[tuple[str, str], ...] = (
    (r"-m tests\.stage_recorder", "stage under tests/stage_recorder.py"),
    (r"-m pipelines\.stages\.(\w+)", "stage {0}"),
    (r"-m dvc (\w+)|/dvc (\w+)", "dvc {0}"),
    (r"airflow api[-_]server", "airflow api-server"),
    (r"airflow (scheduler|dag-processor|triggerer|db)", "airflow {0}"),
    (r"^airflow worker|airflow tasks|airflow supervisor", "airflow task process"),
    (r"dag\.test\(", "airflow dag.test"),
    (r"celeryd|celery worker", "celery worker"),
    (r"mlflow(/server)?.*(server|uvicorn|gunicorn)", "mlflow server (tracking or model serving)"),
    (r"-m pipelines\.([\w.]+)", "pipelines.{0}"),
    (r"moto_server", "moto_server (S3)"),
    (r"^postgres|/postgres ", "postgresql"),
    (r"redis-server", "redis"),
    (r"chrom", "chromium"),
    (r"^node |/node ", "node (playwright)"),
    (r"^git |/git ", "git"),
    (r"exec\(eval\(sys\.stdin|-m pytest|pytest-xdist", "pytest (controller and workers)"),
)


def kind_of(command_line: str) -> str:
    """The kind a process's command line names, else its program's name."""
    for pattern, kind in KINDS:
        found = re.search(pattern, command_line)
        if found:
            group = next((value for value in found.groups() if value), "")
            return kind.format(group)
    program = command_line.split(" ", 1)[0]
    return Path(program).name or "(unnamed)"


@dataclasses.dataclass
class Measured:
    wall: float
    """The command's wall seconds."""
    busy: float
    """CPU seconds the whole machine spent busy meanwhile (every core, every process)."""
    cores: int
    returncode: int
    cpu_by_process: dict[tuple[int, float], tuple[str, float]]
    """{(pid, start time): (command line, CPU seconds)} for every process started after the command."""

    def by_kind(self) -> dict[str, tuple[int, float]]:
        """{kind: (processes, CPU seconds)}, the most CPU first."""
        processes, seconds = Counter(), Counter()
        for command_line, cpu in self.cpu_by_process.values():
            kind = kind_of(command_line)
            processes[kind] += 1
            seconds[kind] += cpu
        return {kind: (processes[kind], cpu) for kind, cpu in seconds.most_common()}


def _busy_seconds() -> float:
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def measure(command: list[str], interval: float = 0.5) -> Measured:
    """Run ``command``, sampling every process started after it every ``interval`` seconds until it exits."""
    started, busy_before = time.time(), _busy_seconds()
    process = subprocess.Popen(command)
    seen: dict[tuple[int, float], tuple[str, float]] = {}
    while True:
        finished = process.poll() is not None
        for candidate in psutil.process_iter(["create_time"]):
            born = candidate.info["create_time"]
            if born is None or born < started - 1:  # this process, the system's, and other older ones
                continue
            key = (candidate.pid, born)
            try:
                cpu = sum(candidate.cpu_times()[:2])
                command_line = seen[key][0] if key in seen else " ".join(candidate.cmdline())
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            seen[key] = (command_line, cpu)
        if finished:
            break
        time.sleep(interval)
    return Measured(
        wall=time.time() - started,
        busy=_busy_seconds() - busy_before,
        cores=psutil.cpu_count() or 1,
        returncode=process.returncode,
        cpu_by_process=seen,
    )


def render(measured: Measured, command: list[str], top: int = 30) -> str:
    attributed = sum(cpu for _, cpu in measured.cpu_by_process.values())
    capacity = measured.wall * measured.cores
    lines = [
        f"### `{' '.join(['python' if command[0] == sys.executable else command[0], *command[1:]])}` "
        f"({date.today().isoformat()}, {measured.cores} cores, exit {measured.returncode})",
        "",
        f"Wall {measured.wall:.0f} s; the machine busy {measured.busy:.0f} CPU-s of {capacity:.0f} "
        f"({measured.busy / capacity:.0%}); attributed to the command's processes {attributed:.0f} CPU-s "
        f"({len(measured.cpu_by_process)} processes sampled).",
        "",
        "| kind | processes | CPU s | share of busy | CPU s a process |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    kinds = list(measured.by_kind().items())
    for kind, (count, cpu) in kinds[:top]:
        lines.append(f"| {kind} | {count} | {cpu:.1f} | {cpu / measured.busy:.1%} | {cpu / count:.2f} |")
    rest = kinds[top:]
    if rest:
        count, cpu = sum(n for _, (n, _) in rest), sum(c for _, (_, c) in rest)
        lines.append(f"| {len(rest)} other kinds | {count} | {cpu:.1f} | {cpu / measured.busy:.1%} | |")
    unattributed = measured.busy - attributed
    lines.append(
        f"| not attributed (short processes, the system) | | {unattributed:.1f} | "
        f"{unattributed / measured.busy:.1%} | |"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true", help=f"append the table to {SUITE_CPU_RECORDS.name}")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    parser.add_argument("command", nargs="*", help="what to run (after --); default: python -m pytest -n 2")
    args = parser.parse_args(argv)
    command = args.command or DEFAULT_COMMAND
    measured = measure(command, args.interval)
    table = render(measured, command)
    print(table)
    if args.record:
        SUITE_CPU_RECORDS.write_text(
            (SUITE_CPU_RECORDS.read_text() if SUITE_CPU_RECORDS.exists() else HEADER) + "\n" + table
        )
        rewrite_results_page()
    sys.exit(measured.returncode)


if __name__ == "__main__":
    main()
