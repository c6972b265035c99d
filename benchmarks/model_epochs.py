"""Seconds per training epoch of the default model types on one corpus, side by side in one run.

    python -m benchmarks.model_epochs [--dataset demo] [--epochs 3] [--record]

The pipeline's upstream stages run once in a throw-away copy of the project (tracking off); then the train stage
runs once per row below, alone on the machine, and each epoch's seconds are read from its log line
(``epoch k/N ... 1.2s``). The baseline is the default model (TextCNN); the target of issue 26 is the default
fastText-style model's epoch no slower than TextCNN's (ratio <= 1.0x). ``fasttext, dense Adam`` is the same
model with ``model.fasttext.sparse: false``: every step rewrites the whole embedding table and both of Adam's
moments, the cost the sparse default removes. Results are appended to
``benchmarks/results/model_epochs.md`` with ``--record``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.concurrent_training import environment
from benchmarks.project_copy import copy_project, write_params_with
from pipelines.common.parallel import usable_cores
from pipelines.stages.train import standalone_command

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "model_epochs.md"
EPOCH_LINE = re.compile(r"epoch \d+/\d+\s.*\s(\d+\.\d)s(?:\s+\*best)?$", re.MULTILINE)
# row label -> params overrides; the first row is the baseline
ROWS: dict[str, dict[str, object]] = {
    "textcnn (default model)": {"model.type": "textcnn"},
    "fasttext (default: sparse, lazy Adam)": {"model.type": "fasttext"},
    "fasttext, dense Adam": {"model.type": "fasttext", "model.fasttext.sparse": False},
}


def train_once(project: Path, label: str, overrides: dict[str, object]) -> tuple[list[float], float]:
    """Seconds of each epoch and the best validation accuracy of one standalone training."""
    out = project / "bench" / re.sub(r"\W+", "-", label)
    out.mkdir(parents=True, exist_ok=True)
    params = write_params_with(project / "params.yaml", out / "params.yaml", overrides)
    command = standalone_command(project, params, out)
    result = subprocess.run(command, cwd=project, env=environment(1), capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        sys.exit(f"{label}: training failed\n{result.stderr[-2000:]}")
    seconds = [float(match.group(1)) for match in EPOCH_LINE.finditer(result.stderr)]
    if not seconds:
        sys.exit(f"{label}: no 'epoch k/N ... X.Xs' line in the training's log\n{result.stderr[-2000:]}")
    report = json.loads((out / "train.json").read_text())
    return seconds, report["best_valid_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="demo", help="demo (offline) or a registry dataset (TEXTFLOW_MIRROR)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--record", action="store_true", help=f"append the table to {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args()
    overrides = {
        "dataset.name": args.dataset,
        "train.epochs": args.epochs,
        "train.patience": args.epochs,
        "tracking.enabled": False,
    }
    with tempfile.TemporaryDirectory(prefix="textflow-model-epochs-") as scratch:
        project = copy_project(Path(scratch), overrides)
        subprocess.run(
            [sys.executable, "-m", "dvc", "repro", "embed"], cwd=project, env=environment(1), check=True,
            capture_output=True, timeout=3600,
        )  # fmt: skip
        measured = {label: train_once(project, label, row) for label, row in ROWS.items()}
    baseline = statistics.median(next(iter(measured.values()))[0])
    lines = [
        f"### {args.dataset}, {args.epochs} epochs, {usable_cores()} usable cores ({time.strftime('%Y-%m-%d')})",
        "",
        "| model | median s/epoch | vs textcnn | best valid accuracy |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {label} | {statistics.median(seconds):.1f} | {statistics.median(seconds) / baseline:.2f}x "
            f"| {accuracy:.4f} |"
            for label, (seconds, accuracy) in measured.items()
        ),
        "",
    ]
    print("\n".join(lines))
    if args.record:
        with open(RESULTS, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
