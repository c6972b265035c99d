"""N trainings at once on one machine against the same N one after another.

    python -m benchmarks.concurrent_training [--trainings 2] [--dataset demo|trec] [--epochs 3]

The pipeline's upstream stages run once in a throw-away copy of the project; then the train stage (tracking
off) runs N times with different ``train.seed``s, three ways:

- ``sequential``: one after another, each sized for a machine of its own (``TEXTFLOW_CONCURRENT_TRAININGS=1``);
- ``concurrent, shared threads``: all at once, each told N trainings share the machine (what an Airflow pool of
  N slots, or a sweep, does since the thread fix);
- ``concurrent, default threads``: all at once, each taking every core (``train.num_threads`` = all cores: the
  behaviour before the fix, torch's default).

The target: N concurrent trainings finish no slower than N sequential ones (ratio <= 1.0x, some noise
allowed). Keep the machine otherwise idle while it runs. Results are appended to
``benchmarks/results/concurrent_training.md`` with ``--record``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.project_copy import copy_project, write_params_with
from pipelines.common.parallel import usable_cores
from pipelines.stages.train import standalone_command
from pipelines.training.gpus import CONCURRENT_TRAININGS_ENV

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "concurrent_training.md"


def environment(trainings: int) -> dict[str, str]:
    # The copy's own MLflow store would be untouched (tracking is off); never the user's.
    return {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"} | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        CONCURRENT_TRAININGS_ENV: str(trainings),
    }


def train_command(project: Path, label: str, seed: int, num_threads: int | None) -> list[str]:
    """The train stage with its own output directory (a shared one would resume a finished checkpoint)."""
    out = project / "bench" / f"{label}-seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    overrides = {"train.seed": seed} | ({} if num_threads is None else {"train.num_threads": num_threads})
    return standalone_command(project, write_params_with(project / "params.yaml", out / "params.yaml", overrides), out)


def timed(project: Path, commands: list[list[str]], trainings_sharing: int, at_once: bool) -> float:
    env = environment(trainings_sharing)
    began = time.perf_counter()
    if at_once:
        processes = [
            subprocess.Popen(c, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for c in commands
        ]
        for process in processes:
            _, error = process.communicate(timeout=3600)
            if process.returncode != 0:
                sys.exit(error.decode()[-2000:])
    else:
        for command in commands:
            subprocess.run(command, cwd=project, env=env, check=True, capture_output=True, timeout=3600)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainings", type=int, default=2)
    parser.add_argument(
        "--dataset", default="demo", help="demo (offline) or a registry dataset (needs TEXTFLOW_MIRROR)"
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--record", action="store_true", help=f"append the table to {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args()
    overrides = {
        "dataset.name": args.dataset,
        "dataset.demo.train_size": 12000,
        "train.epochs": args.epochs,
        "train.patience": args.epochs,
        "tracking.enabled": False,
    }
    cores = usable_cores()
    with tempfile.TemporaryDirectory(prefix="textflow-concurrency-") as scratch:
        project = copy_project(Path(scratch), overrides)
        subprocess.run(
            [sys.executable, "-m", "dvc", "repro", "embed"],
            cwd=project,
            env=environment(1),
            check=True,
            capture_output=True,
        )
        seeds = list(range(1, args.trainings + 1))
        results = {
            "sequential (each alone, all cores)": timed(
                project, [train_command(project, "sequential", seed, None) for seed in seeds], 1, at_once=False
            ),
            "concurrent, shared threads (the fix)": timed(
                project, [train_command(project, "shared", seed, None) for seed in seeds], args.trainings, at_once=True
            ),
            "concurrent, default threads (before)": timed(
                project, [train_command(project, "greedy", seed, cores) for seed in seeds], 1, at_once=True
            ),
        }
    baseline = results["sequential (each alone, all cores)"]
    lines = [
        f"### {args.trainings} × TextCNN on {args.dataset}, {args.epochs} epochs, {cores} usable cores "
        f"({time.strftime('%Y-%m-%d')})",
        "",
        "| how | wall seconds | vs sequential |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {seconds:.1f} | {seconds / baseline:.2f}x |" for name, seconds in results.items()),
        "",
    ]
    print("\n".join(lines))
    if args.record:
        with open(RESULTS, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
