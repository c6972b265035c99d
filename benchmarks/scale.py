"""How each stage's cost grows with the corpus: the demo pipeline at several training sizes, side by side.

    python -m benchmarks.scale [--sizes 3000 30000 300000 1000000] [--record]

For each size a throw-away copy of the project gets ``dataset.demo.train_size`` (the test split keeps the demo's
proportion, 800 per 3,000), one epoch of the default model and tracking off; then every stage of dvc.yaml runs on
its own (``dvc repro --single-item``, in dvc.yaml order) under a launcher that reads the stage's peak resident
memory (the largest process it waited for, DVC's own included). Seconds are the stage's own "done in" line, so
DVC's hashing and start-up are left out. Issue 26's targets: every stage's cost per text at the largest size
<= 1.2x its cost at 30k; validate no slower than clean at every size; no stage above 4 GB.

``--record`` appends the tables to ``benchmarks/results/scale.md`` and draws ``benchmarks/results/scale.png``
(seconds against texts, log-log, a line per stage). Keep the machine otherwise idle while it runs.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.concurrent_training import environment
from benchmarks.project_copy import copy_project
from benchmarks.report import SCALE_RECORDS, rewrite_results_page
from pipelines.common.parallel import usable_cores
from pipelines.config.pipeline import load_stages

ROOT = Path(__file__).resolve().parents[1]
PLOT = SCALE_RECORDS.with_suffix(".png")
DEMO_TEST_PER_TRAIN = 800 / 3000
REFERENCE_SIZE = 30_000
# Runs a command and reports the largest resident set among the processes it waited for (Linux: kilobytes).
PEAK_MEMORY_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "print('peak_rss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def run_stage(project: Path, stage: str) -> tuple[float, float]:
    """The stage's own seconds and its peak resident memory in MB."""
    command = [sys.executable, "-c", PEAK_MEMORY_LAUNCHER, "dvc", "repro", "--single-item", stage]
    result = subprocess.run(command, cwd=project, env=environment(1), capture_output=True, text=True, timeout=7200)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit(f"stage {stage} failed:\n{output[-3000:]}")
    done = re.findall(rf"\[{stage}\] done in ([\d.]+)s", output)
    peak = re.search(r"peak_rss_kb (\d+)", output)
    if not done or not peak:
        sys.exit(f"stage {stage}: no 'done in' or peak memory line in its output:\n{output[-3000:]}")
    return float(done[-1]), int(peak.group(1)) / 1024


def measure(size: int) -> dict[str, tuple[float, float]]:
    overrides = {
        "dataset.name": "demo",
        "dataset.demo.train_size": size,
        "dataset.demo.test_size": max(20, round(size * DEMO_TEST_PER_TRAIN)),
        "train.epochs": 1,
        "train.patience": 1,
        "tracking.enabled": False,
    }
    with tempfile.TemporaryDirectory(prefix="textflow-scale-") as scratch:
        project = copy_project(Path(scratch), overrides)
        stages = list(load_stages(project / "dvc.yaml"))
        measured = {}
        for stage in stages:
            measured[stage] = run_stage(project, stage)
            seconds, memory = measured[stage]
            print(f"  {size:>9,} texts  {stage:<12} {seconds:8.1f} s  {memory:7.0f} MB", file=sys.stderr, flush=True)
    return measured


def tables(results: dict[int, dict[str, tuple[float, float]]]) -> list[str]:
    sizes = sorted(results)
    stages = list(results[sizes[0]])
    header = "| stage | " + " | ".join(f"{size:,} texts" for size in sizes) + " |"
    rule = "| --- |" + " ---: |" * len(sizes)
    lines = [f"Seconds (and µs per training text), {usable_cores()} usable cores:", "", header, rule]
    for stage in stages:
        cells = [f"{results[size][stage][0]:.1f} ({1e6 * results[size][stage][0] / size:.0f})" for size in sizes]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines += ["", "Peak resident memory, MB (DVC's own process included):", "", header, rule]
    lines += [
        f"| {stage} | " + " | ".join(f"{results[size][stage][1]:.0f}" for size in sizes) + " |" for stage in stages
    ]
    largest = sizes[-1]
    if REFERENCE_SIZE in results and largest > REFERENCE_SIZE:
        lines += ["", f"Cost per text at {largest:,} against {REFERENCE_SIZE:,} (target <= 1.2x):", ""]
        lines += ["| stage | ratio |", "| --- | ---: |"]
        for stage in stages:
            per_text = {size: results[size][stage][0] / size for size in (REFERENCE_SIZE, largest)}
            shown = (
                f"{per_text[largest] / per_text[REFERENCE_SIZE]:.2f}x" if per_text[REFERENCE_SIZE] else "under 0.05 s"
            )
            lines.append(f"| {stage} | {shown} |")
    return lines


def plot(results: dict[int, dict[str, tuple[float, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    sizes = sorted(results)
    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    for stage in results[sizes[0]]:
        axes.plot(sizes, [max(results[size][stage][0], 0.05) for size in sizes], marker="o", label=stage)
    axes.set(xscale="log", yscale="log", xlabel="training texts", ylabel="stage seconds", title="textflow demo")
    axes.legend(fontsize="small", ncol=2)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[3_000, 30_000, 300_000, 1_000_000])
    parser.add_argument(
        "--record", action="store_true", help=f"append to {SCALE_RECORDS.relative_to(ROOT)}, draw the plot"
    )
    args = parser.parse_args()
    results = {size: measure(size) for size in sorted(args.sizes)}
    lines = [f"### Demo corpus, one epoch of the default model ({time.strftime('%Y-%m-%d')})", "", *tables(results), ""]
    print("\n".join(lines))
    if args.record:
        with open(SCALE_RECORDS, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        plot(results, PLOT)
        rewrite_results_page()


if __name__ == "__main__":
    main()
