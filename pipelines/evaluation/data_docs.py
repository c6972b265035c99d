"""GX's Data Docs site of the data a model was scored on, logged to the model's MLflow run as ``data_docs/``.

The site is built here, not kept from the validate stage: it carries run times, so it cannot be a DVC output
(outputs are byte-reproducible), and on a cluster the validate stage may run on another worker than the one that
holds the run. The evaluate stage reruns the validate stage's suite (``validate_splits``, same params) on the
validated splits, which are the frames that stage checked and wrote, so the site shows the same checks as
``reports/validation.json``, minus the class-balance checks that are textflow's own rather than GX expectations.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pandas as pd

from pipelines.config import Params
from pipelines.data.validation import validate_splits
from pipelines.tracking.scores import DATA_DOCS_PATH

log = logging.getLogger("evaluate")


def log_data_docs(validated: Path, params: Params, labelled: bool) -> None:
    """Validate every split in ``validated`` again (``params.validate``) with GX's Data Docs site on, and log the
    site to the active run; with ``tracking.data_docs: false`` only say that it was left out."""
    if not params.tracking.data_docs:
        log.info("GX Data Docs left out of the run (tracking.data_docs: false)")
        return
    import mlflow

    splits = {path.stem: pd.read_parquet(path) for path in sorted(validated.glob("*.parquet"))}
    with tempfile.TemporaryDirectory(prefix="textflow-data-docs-") as scratch:
        site = Path(scratch) / "site"
        report = validate_splits(splits, params.validate, labelled=labelled, data_docs=site)
        mlflow.log_artifacts(str(site), DATA_DOCS_PATH)
    log.info("logged GX Data Docs (%s) as %s/index.html", report.summary(), DATA_DOCS_PATH)
