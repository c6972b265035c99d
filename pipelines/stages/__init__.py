"""One module per DVC stage, each a thin ``main()`` over library code; dvc.yaml names the paths."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable

from pipelines.config import ConfigError
from pipelines.data.download import DownloadError
from pipelines.data.formats import FormatError
from pipelines.data.validation import ValidationFailed

EXPECTED_ERRORS = (ConfigError, DownloadError, FormatError, ValidationFailed, FileNotFoundError)


def stage_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    return parser


def run_stage(name: str, body: Callable[[], None]) -> None:
    """Run a stage body with progress logging; an expected error becomes one line on stderr and exit 1."""
    logging.basicConfig(level=logging.INFO, format=f"[{name}] %(message)s", stream=sys.stderr, force=True)
    for noisy in ("gensim", "great_expectations", "jieba", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    began = time.perf_counter()
    try:
        body()
    except EXPECTED_ERRORS as error:
        print(f"[{name}] error: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    logging.getLogger(name).info("done in %.1fs", time.perf_counter() - began)
