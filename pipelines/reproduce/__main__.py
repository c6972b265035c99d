"""Rebuild the run behind a model and say whether it comes out the same:

    python -m pipelines.reproduce <MLflow run id | models:/<name>@<alias> | models:/<name>/<version>> [--keep]
    python -m pipelines.reproduce <...> --dag [AIRFLOW_URL]      # the same rebuild as a textflow_pipeline DAG run

Reads the run from the MLflow store (``MLFLOW_TRACKING_URI``, else the project's ``mlruns/``), rebuilds it at its
commit with its params in a fresh workspace under ``.runs/`` (pipelines/orchestration/reproduction.py says how),
and prints one line per output and for the scores: ``identical``, or ``DIFFERS`` with both hashes or values
(and ``changed`` for an input that is not what the run read, such as a file edited in a dirty tree).
Exit code 0 only when everything compared is identical; 1 when something differs or the run cannot be rebuilt
(its commit is gone, it logged no dvc.lock), with one line saying which. With ``--dag`` the rebuild is a DAG run
(REST conf: the commit, every param, ``rebuild: true`` so no stage is restored from the run-cache), compared
through the MLflow run it logs once it succeeded.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pipelines.common.errors import PipelineError
from pipelines.orchestration import airflow_rest
from pipelines.orchestration.dags import PIPELINE_DAG_ID
from pipelines.orchestration.reproduction import rebuild, rebuild_through_airflow
from pipelines.tracking.recorded_run import recorded_run
from pipelines.tracking.store import connect

DEFAULT_AIRFLOW = "http://127.0.0.1:8080"
DEFAULT_PASSWORD_FILE = "airflow_home/simple_auth_manager_passwords.json.generated"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("target", help="an MLflow run id, models:/<name>@<alias> or models:/<name>/<version>")
    parser.add_argument("--keep", action="store_true", help="keep the rebuild's workspace even when identical")
    parser.add_argument(
        "--dag",
        nargs="?",
        const=DEFAULT_AIRFLOW,
        metavar="AIRFLOW_URL",
        help=f"rebuild as a textflow_pipeline run of this Airflow (default {DEFAULT_AIRFLOW}, `make airflow`'s)",
    )
    parser.add_argument(
        "--password-file",
        type=Path,
        default=Path(DEFAULT_PASSWORD_FILE),
        help=f"with --dag: the simple auth manager's admin passwords (default {DEFAULT_PASSWORD_FILE}; absent: no login)",
    )
    parser.add_argument("--minutes", type=float, default=120, help="with --dag: how long to wait for the DAG run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    from mlflow import MlflowClient

    root = Path.cwd()
    try:
        client = MlflowClient(tracking_uri=connect())
        record = recorded_run(client, args.target)
        if args.dag:
            base = args.dag.rstrip("/")
            token = airflow_rest.login(base, args.password_file) if args.password_file.exists() else None
            dag_url = airflow_rest.dag_api_url(base, PIPELINE_DAG_ID)
            checks = rebuild_through_airflow(root, record, client, dag_url, token, args.minutes)
        else:
            checks = rebuild(root, record, keep=args.keep)
        identical = True
        for check in checks:
            print(check.line(), flush=True)
            identical &= not check.differs
    except (PipelineError, RuntimeError, OSError) as error:
        sys.exit(f"error: {error}")
    if not identical:
        sys.exit(f"run {record.run_id} did NOT rebuild identically (lines marked DIFFERS)")
    print(f"run {record.run_id} rebuilt identically at commit {record.commit[:12]}")


if __name__ == "__main__":
    main()
