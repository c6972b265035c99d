"""Wall time of every stage of the demo pipeline, each stage forced to run, in a throw-away copy.

    python -m benchmarks.pipeline_timing [-S key=value ...]

Copies the tracked project files to a temporary directory, runs ``dvc repro --force``, and reads each
stage's own "done in" line, so the numbers exclude DVC's bookkeeping; the total includes it. Runs and
models go to a store inside the copy, never to the user's.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.project_copy import copy_project
from pipelines.config import parse_assignments

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="params override key=value")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        copy_project(project, parse_assignments(args.overrides))
        # Its own MLflow store: a benchmark must never log runs or register models in the user's store.
        env = {key: value for key, value in os.environ.items() if key != "TEXTFLOW_PROJECT_ROOT"} | {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        }
        began = time.perf_counter()
        result = subprocess.run(["dvc", "repro", "--force"], cwd=project, env=env, capture_output=True, text=True)
        total = time.perf_counter() - began
        if result.returncode != 0:
            sys.exit(result.stdout + result.stderr)
    timings = re.findall(r"\[(\w+)\] done in ([\d.]+)s", result.stderr + result.stdout)
    print(f"demo pipeline ({os.cpu_count()} cores){' with ' + ' '.join(args.overrides) if args.overrides else ''}")
    print(f"{'stage':<10} {'seconds':>8}")
    for stage, seconds in timings:
        print(f"{stage:<10} {float(seconds):>8.1f}")
    print(f"{'stages':<10} {sum(float(s) for _, s in timings):>8.1f}")
    print(f"{'dvc repro':<10} {total:>8.1f}  (includes python start-up and DVC hashing)")


if __name__ == "__main__":
    main()
