"""One module per DVC stage, each a thin ``main()`` over library code; dvc.yaml names the paths."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipelines.common.errors import INPUT_ERROR_EXIT, InputError, PipelineError
from pipelines.common.timings import record_timing

STAGES_TO_RUN_ENV = "TEXTFLOW_STAGES_TO_RUN"
"""Set by a distributed task (comma-separated stage names): every other stage must come from the DVC remote's
run-cache, and DVC running one means its outputs never reached the remote, which must fail rather than silently
repeat the work (a training, say) on the wrong worker."""

EXPECTED_ERRORS = (PipelineError, FileNotFoundError)


def stage_cli(
    name: str,
    description: str | None,
    paths: list[str],
    body: Callable[[argparse.Namespace], None],
    argv: list[str] | None = None,
) -> None:
    """Parse ``--params`` and one required ``--<path>`` option per name in ``paths`` (dvc.yaml supplies
    them), then run ``body(args)`` under :func:`run_stage`."""
    parser = argparse.ArgumentParser(prog=f"python -m pipelines.stages.{name}", description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    for path in paths:
        parser.add_argument(f"--{path.replace('_', '-')}", required=True, type=Path)
    args = parser.parse_args(argv)
    run_stage(name, lambda: body(args))


def _is_mlflow_error(error: Exception) -> bool:
    """MLflow's own exceptions (a refused request, a missing model) are the store's answer, not a bug here."""
    return type(error).__module__.startswith("mlflow.")


def run_stage(name: str, body: Callable[[], None]) -> None:
    """Run a stage body with progress logging; an expected error becomes one line on stderr and exit status 1,
    or ``INPUT_ERROR_EXIT`` when only other params or data can fix it."""
    allowed = os.environ.get(STAGES_TO_RUN_ENV)
    if allowed is not None and name not in allowed.split(","):
        print(
            f"[{name}] error: this task restores stage {name} from the DVC remote instead of running it, but the "
            f"remote holds no run of it with these inputs and params. Check that the task that ran {name} for this "
            "DAG run succeeded and pushed (dvc push --run-cache), and that every worker uses the same remote.",
            file=sys.stderr,
        )
        raise SystemExit(1)
    logging.basicConfig(level=logging.INFO, format=f"[{name}] %(message)s", stream=sys.stderr, force=True)
    # MLflow sets its loggers' level from MLFLOW_LOGGING_LEVEL when first imported (database migrations, input
    # example checks at INFO); the stages say what they logged themselves.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for noisy in ("gensim", "great_expectations", "jieba", "matplotlib", "mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    began = time.perf_counter()
    try:
        body()
    except EXPECTED_ERRORS as error:
        print(f"[{name}] error: {error}", file=sys.stderr)
        raise SystemExit(INPUT_ERROR_EXIT if isinstance(error, InputError) else 1) from None
    except Exception as error:
        if not _is_mlflow_error(error):
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"[{name}] error: MLflow: {first}", file=sys.stderr)
        raise SystemExit(1) from None
    seconds = time.perf_counter() - began
    record_timing(name, seconds)
    logging.getLogger(name).info("done in %.1fs", seconds)
