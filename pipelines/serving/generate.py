"""Continue text with a trained language model (``task: language_model``).

    python -m pipelines.serving.generate --prefix "分开" --tokens 50 --temperature 0.8       # the registered champion
    python -m pipelines.serving.generate --prefix "the company" --top-k 40 --seed 3         # another sample
    python -m pipelines.serving.generate --local --prefix "分开"                            # the last `dvc repro`'s model

The champion is ``models:/<register.model_name or textflow-<dataset>-lm>@champion`` in the configured MLflow store
(params.yaml says which dataset). ``--local`` reads ``models/model.pt``, the vocabulary
and ``models/preprocessing.json`` the pipeline wrote in this directory, so it also works with ``tracking.enabled:
false``. The same ``--seed`` gives the same text.
"""

from __future__ import annotations

import argparse
import sys

from pipelines.config import ConfigError
from pipelines.serving.predict import load_registered, local_artifacts
from pipelines.tracking import TrackingError


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.serving.generate",
        description="Generate text with the registered champion language model or the local one.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--prefix", action="append", required=True, help="text to continue (repeat for several)")
    parser.add_argument("--tokens", type=int, default=50, help="tokens to generate (default 50)")
    parser.add_argument("--temperature", type=float, default=1.0, help="below 1: safer, above 1: wilder")
    parser.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest tokens (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="an MLflow model URI (default: the registered champion)")
    parser.add_argument("--local", action="store_true", help="use models/model.pt from this directory, not MLflow")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    sampling = {"tokens": args.tokens, "temperature": args.temperature, "top_k": args.top_k, "seed": args.seed}
    try:
        if args.tokens < 1 or args.temperature <= 0 or args.top_k < 0:
            raise ValueError("--tokens must be >= 1, --temperature > 0 and --top-k >= 0")
        import pandas as pd

        prefixes = pd.DataFrame({"prefix": args.prefix})
        if args.local:
            generated = load_local().predict(None, prefixes, sampling)
        else:
            model = load_registered(args.model, args.params)
            if "generated" not in {spec.name for spec in model.metadata.get_output_schema().inputs}:
                raise ValueError(f"{args.model or 'the champion'} is not a language model (task: language_model)")
            generated = model.predict(prefixes, params=sampling)
    except (ConfigError, TrackingError, FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    print("\n\n".join(generated["generated"]))


def load_local():
    from pipelines.serving.pyfunc import TextGenerator

    return TextGenerator().load_artifacts(local_artifacts("language_model"))


if __name__ == "__main__":
    main()
