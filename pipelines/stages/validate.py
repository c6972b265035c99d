"""Stage ``validate``: parse the raw files, create missing valid/test splits (classification: seeded and
stratified; language model: the end of the corpus), run the Great Expectations suite and write the splits as
parquet. A failed expectation stops the pipeline."""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.common.io import atomic_directory, write_json
from pipelines.config import load_params
from pipelines.data.sources import parse_raw_splits
from pipelines.data.validation import ValidationFailed, validate_splits
from pipelines.stages import stage_cli
from pipelines.tasks import get_task

log = logging.getLogger("validate")


def main(argv: list[str] | None = None) -> None:
    stage_cli(
        "validate",
        __doc__,
        ["raw", "out", "report"],
        lambda args: validate(args.params, args.raw, args.out, args.report),
        argv,
    )


def validate(params_path: str, raw: Path, out: Path, report_path: Path) -> None:
    params = load_params(params_path)
    manifest, parsed = parse_raw_splits(raw)
    published = {split: result.frame for split, result in parsed.items()}
    task = get_task(params)
    splits, created = task.complete_splits(published, params)
    report = validate_splits(splits, params.validate, labelled=task.labelled)
    write_json(
        report_path,
        report.to_dict()
        | {
            "created_splits": created,
            "dataset": manifest["dataset"],
            "files": {split: entry["sha256"] for split, entry in manifest["files"].items()},
            "skipped_lines": {split: result.skipped_summary() for split, result in parsed.items()},
        },
    )
    if not report.success:
        raise ValidationFailed(f"data validation failed ({report_path}):\n{report.summary()}")
    with atomic_directory(out) as staging:
        for split, frame in splits.items():
            frame.to_parquet(staging / f"{split}.parquet", index=False)
    rows = ", ".join(f"{split} {len(frame)}" for split, frame in splits.items())
    log.info("%s; rows: %s%s", report.summary(), rows, f"; created {'+'.join(created)} split" if created else "")


if __name__ == "__main__":
    main()
