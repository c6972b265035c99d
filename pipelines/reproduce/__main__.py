"""Rebuild the run behind a model and say whether it comes out the same:

    python -m pipelines.reproduce <MLflow run id | models:/<name>@<alias> | models:/<name>/<version>> [--keep]

Reads the run from the MLflow store (``MLFLOW_TRACKING_URI``, else the project's ``mlruns/``), rebuilds it at its
commit with its params in a fresh workspace under ``.runs/`` (pipelines/orchestration/reproduction.py says how),
and prints one line per output and for the scores: ``identical``, or ``DIFFERS`` with both hashes or values
(and ``changed`` for an input that is not what the run read, such as a file edited in a dirty tree).
Exit code 0 only when everything compared is identical; 1 when something differs or the run cannot be rebuilt
(its commit is gone, it logged no dvc.lock), with one line saying which.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pipelines.common.errors import PipelineError
from pipelines.orchestration.reproduction import rebuild
from pipelines.tracking.recorded_run import recorded_run
from pipelines.tracking.store import connect


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("target", help="an MLflow run id, models:/<name>@<alias> or models:/<name>/<version>")
    parser.add_argument("--keep", action="store_true", help="keep the rebuild's workspace even when identical")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    from mlflow import MlflowClient

    try:
        record = recorded_run(MlflowClient(tracking_uri=connect()), args.target)
        identical = True
        for check in rebuild(Path.cwd(), record, keep=args.keep):
            print(check.line(), flush=True)
            identical &= not check.differs
    except (PipelineError, RuntimeError) as error:
        sys.exit(f"error: {error}")
    if not identical:
        sys.exit(f"run {record.run_id} did NOT rebuild identically (lines marked DIFFERS)")
    print(f"run {record.run_id} rebuilt identically at commit {record.commit[:12]}")


if __name__ == "__main__":
    main()
