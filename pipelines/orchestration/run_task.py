"""``python -m pipelines.orchestration.run_task <stage> --spec '<json>'``: one DAG task outside Airflow's Python
workers (a Kubernetes pod, a Docker container): build the run's workspace from its spec (run id, commit,
overrides) and run the stage there, exactly as a worker task does."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from pipelines.common.project import project_root
from pipelines.orchestration.dags import workspace_for_spec
from pipelines.orchestration.workspace import WorkspaceError, run_stage


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.orchestration.run_task", description=__doc__)
    parser.add_argument("stage")
    parser.add_argument("--spec", required=True, help='{"run_id": ..., "commit": ..., "overrides": {...}}')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        spec = json.loads(args.spec)
        missing = {"run_id", "commit", "overrides"} - set(spec)
        if missing:
            raise ValueError(f"the spec lacks {', '.join(sorted(missing))}")
    except ValueError as error:
        raise SystemExit(f"--spec is not a run spec: {error}") from None
    root = project_root()
    try:
        run_stage(root, workspace_for_spec(root, spec), args.stage, force=spec.get("force", False))
    except (WorkspaceError, RuntimeError) as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
