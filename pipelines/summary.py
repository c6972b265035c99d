"""Printed at the end of ``make run``: the test metrics and where every output of the run lives."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from pipelines.io import read_json

OUTPUTS = [
    ("metrics", "reports/metrics.json"),
    ("confusion matrix", "reports/confusion.png"),
    ("training curves", "reports/train_history.csv"),
    ("validation report", "reports/validation.json"),
    ("model", "models/model.pt"),
]


def main() -> None:
    metrics_path = Path("reports/metrics.json")
    if not metrics_path.exists():
        sys.exit("no reports/metrics.json yet: run `dvc repro` (or `make run`) first")
    test = read_json(metrics_path)["test"]
    params = yaml.safe_load(Path("params.yaml").read_text())
    print()
    print(f"textflow: {params['dataset']['name']} / {params['model']['type']}")
    print(f"  test accuracy {test['accuracy']:.4f}   macro-F1 {test['macro_f1']:.4f}   ({test['examples']} examples)")
    for name, scores in test["per_class"].items():
        print(
            f"    {name:<16} precision {scores['precision']:.3f}  recall {scores['recall']:.3f}  f1 {scores['f1']:.3f}"
        )
    print("  outputs:")
    for label, path in OUTPUTS:
        print(f"    {label:<18} {Path(path).resolve()}")
    print("  more: dvc metrics show | dvc plots show | dvc dag")


if __name__ == "__main__":
    main()
