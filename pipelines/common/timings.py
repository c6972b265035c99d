"""Stage wall times, kept out of every DVC output.

A number of seconds inside a file that a later stage depends on makes that stage run again whenever the
earlier one does (the seconds always differ), so re-running an unchanged ``tokenize`` retrained the model and
registered a new version. Timings are observations, not results: each stage records its own in
``reports/timings/<stage>.json`` (git-ignored, declared nowhere in dvc.yaml), and the train stage attaches
the ones it finds to its MLflow run. Nothing is ever computed from them, so reading them undeclared cannot
change an output; a stage restored from DVC's cache simply has no fresh timing.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.common.io import read_json, write_json

TIMINGS_DIR = Path("reports") / "timings"


def record_timing(stage: str, seconds: float, directory: Path = TIMINGS_DIR) -> None:
    write_json(directory / f"{stage}.json", {"stage": stage, "seconds": round(seconds, 3)})


def read_timings(stages: list[str], directory: Path = TIMINGS_DIR) -> dict[str, float]:
    """``{"<stage>.seconds": s}`` for each of ``stages`` that has a timing."""
    found = {}
    for stage in stages:
        path = directory / f"{stage}.json"
        if path.exists():
            found[f"{stage}.seconds"] = float(read_json(path)["seconds"])
    return found
