"""Classify raw text with a trained model.

    python -m pipelines.serving.predict "some text" "another text"      # the registered champion (MLflow)
    python -m pipelines.serving.predict --file texts.txt                # one text per line; "-" reads stdin
    python -m pipelines.serving.predict --local "some text"             # the last `dvc repro`'s model, no MLflow

The champion is ``models:/<register.model_name or textflow-<dataset>>@champion`` in the configured MLflow
store. ``--local`` reads ``models/model.pt``, the vocabulary and ``models/preprocessing.json`` (the cleaning and
tokenizing the model was trained with, written by the evaluate stage) that the pipeline wrote in this directory
(paths from dvc.yaml), so it also works with ``tracking.enabled: false`` and ignores later edits of params.yaml. Output: one line per text, ``label<TAB>probability<TAB>text``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines.config import ConfigError, load_params
from pipelines.tracking import TrackingError, connect, registered_name
from pipelines.tracking.gate import CHAMPION


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.serving.predict",
        description="Classify raw text with the registered champion or the local model.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("texts", nargs="*", help="raw texts to classify")
    parser.add_argument("--file", help="read texts from this file, one per line ('-' = standard input)")
    parser.add_argument("--model", help="an MLflow model URI (default: the registered champion)")
    parser.add_argument("--local", action="store_true", help="use models/model.pt from this directory, not MLflow")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    try:
        texts = read_texts(args.texts, args.file)
        model = load_local() if args.local else load_registered(args.model, args.params)
        predictions = model.predict(None, _frame(texts)) if args.local else model.predict(_frame(texts))
    except (ConfigError, TrackingError, FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    for text, (_, row) in zip(texts, predictions.iterrows(), strict=True):
        probabilities = {column.removeprefix("probability_"): row[column] for column in predictions.columns[1:]}
        print(f"{row['label']}\t{probabilities[row['label']]:.3f}\t{text}")


def read_texts(arguments: list[str], file: str | None) -> list[str]:
    texts = list(arguments)
    if file is not None:
        handle = sys.stdin if file == "-" else open(file, encoding="utf-8")  # noqa: SIM115 - closed below
        try:
            texts.extend(line.rstrip("\n") for line in handle if line.strip())
        finally:
            if handle is not sys.stdin:
                handle.close()
    if not texts:
        raise ValueError("no text to classify: give texts as arguments, or --file PATH (--file - for stdin)")
    return texts


def _frame(texts: list[str]):
    import pandas as pd

    return pd.DataFrame({"text": texts})


def load_registered(uri: str | None, params_path: str):
    connect()
    uri = uri or f"models:/{registered_name(load_params(params_path))}@{CHAMPION}"
    import mlflow

    try:
        return mlflow.pyfunc.load_model(uri)
    except Exception as error:  # mlflow raises its own types for a missing model or alias
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TrackingError(
            f"could not load {uri}: {first_line}. Run the pipeline (make run) to register a model, "
            "or use --local for the last local training"
        ) from None


def local_artifacts(task: str) -> dict[str, str]:
    """The last ``dvc repro``'s model as the served pyfunc's artifacts: ``model.pt``, the vocabulary and the
    preprocessing the evaluate stage wrote for that model (how raw text reached it in training), never today's
    params.yaml, which may have changed since. ``task`` must be the model's."""
    from pipelines.common.io import read_json
    from pipelines.config.pipeline import dvc_paths

    paths = dvc_paths(Path("dvc.yaml"))
    files = {
        "model": Path(paths["model"]),
        "vocab": Path(paths["tokens"]) / "vocab.json",
        "preprocessing": Path(paths["preprocessing"]),
    }
    for path in files.values():
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: run `dvc repro` (or `make run`) here first")
    trained = read_json(files["preprocessing"]).get("task", "classification")
    if trained != task:
        tools = {
            "classification": "python -m pipelines.serving.predict",
            "language_model": "python -m pipelines.serving.generate",
        }
        raise ValueError(f"{files['model']} is a {trained} model (task: {trained}); use {tools[trained]} --local")
    return {name: str(path) for name, path in files.items()}


def load_local():
    from pipelines.serving.pyfunc import TextClassifier

    return TextClassifier().load_artifacts(local_artifacts("classification"))


if __name__ == "__main__":
    main()
