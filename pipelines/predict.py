"""Predict labels for raw text with a registered model: ``python -m pipelines.predict "some text" ...``.

Defaults to ``models:/<register.model_name or textflow-<dataset>>@champion`` in the configured MLflow store.
"""

from __future__ import annotations

import argparse
import sys

from pipelines.config import load_params
from pipelines.tracking import CHAMPION, TrackingError, connect, registered_name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.predict", description=__doc__.splitlines()[0])
    parser.add_argument("texts", nargs="+", help="raw texts to classify")
    parser.add_argument("--model", help="model URI (default: the registered champion)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    try:
        connect()
        uri = args.model or f"models:/{registered_name(load_params(args.params))}@{CHAMPION}"
        import mlflow

        model = mlflow.pyfunc.load_model(uri)
    except TrackingError as error:
        sys.exit(f"error: {error}")
    except Exception as error:  # mlflow raises its own types for a missing model or alias
        sys.exit(f"error: could not load {uri}: {error}. Run the pipeline (make run) to register a model first.")
    import pandas as pd

    predictions = model.predict(pd.DataFrame({"text": args.texts}))
    for text, (_, row) in zip(args.texts, predictions.iterrows(), strict=True):
        probabilities = {column.removeprefix("probability_"): row[column] for column in predictions.columns[1:]}
        print(f"{row['label']}\t{probabilities[row['label']]:.3f}\t{text}")


if __name__ == "__main__":
    main()
