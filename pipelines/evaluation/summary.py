"""Printed at the end of ``make run``: the test metrics and where every output of the run lives."""

from __future__ import annotations

import sys
from pathlib import Path

from pipelines.common.io import read_json
from pipelines.config.pipeline import dvc_paths
from pipelines.config.yaml_reader import load_yaml

METRICS = Path("reports/metrics.json")


def outputs(task: str) -> list[tuple[str, Path]]:
    """(label, path) of what a user opens after a run; the model paths come from dvc.yaml's ``vars.paths``."""
    paths = dvc_paths(Path("dvc.yaml"))
    figure = ("confusion matrix", "confusion.png") if task == "classification" else ("generated samples", "samples.txt")
    return [
        ("metrics", METRICS),
        (figure[0], Path("reports/evaluation") / figure[1]),
        ("training curves", Path("reports/train_history.csv")),
        ("validation report", Path("reports/validation.json")),
        ("model", Path(paths["model"])),
        ("its preprocessing", Path(paths["preprocessing"])),
    ]


def main() -> None:
    if not METRICS.exists():
        sys.exit(f"no {METRICS} yet: run `dvc repro` (or `make run`) first")
    metrics = read_json(METRICS)
    params = load_yaml(Path("params.yaml").read_text(encoding="utf-8"))
    task = params.get("task", "classification")
    print()
    if task == "classification":
        test = metrics["test"]
        print(f"textflow: {params['dataset']['name']} / {params['model']['type']}")
        print(
            f"  test accuracy {test['accuracy']:.4f}   macro-F1 {test['macro_f1']:.4f}   ({test['examples']} examples)"
        )
        for name, scores in test["per_class"].items():
            print(
                f"    {name:<16} precision {scores['precision']:.3f}  recall {scores['recall']:.3f}  "
                f"f1 {scores['f1']:.3f}"
            )
    else:
        print(f"textflow: {params['dataset']['name']} / {params['language_model']['cell']} language model")
        print(
            f"  perplexity: validation {metrics['valid']['perplexity']:.2f}   test {metrics['test']['perplexity']:.2f}"
            f"   ({metrics['test']['tokens']} test tokens)"
        )
    print("  outputs:")
    for label, path in outputs(task):
        print(f"    {label:<18} {path.resolve()}")
    print("  more: dvc metrics show | dvc plots show | dvc dag")


if __name__ == "__main__":
    main()
