"""The MLflow pyfunc models: raw text in, label and class probabilities out (a classifier), or prefixes in and
generated text out (a language model).

It bundles everything prediction needs as artifacts (the torch checkpoint, the vocabulary, the cleaning and
tokenizing settings with the stopword list) plus the ``pipelines`` package as code, so
``mlflow.pyfunc.load_model("models:/<name>@champion")`` works without the repository's data folder.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

try:
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is a pinned dependency
    PythonModel = object

PREDICT_BATCH = 256
MAX_GENERATED_TOKENS = 2048
MAX_PREFIXES = 256


class TextClassifier(PythonModel):
    def load_context(self, context) -> None:
        self.load_artifacts(context.artifacts)

    def load_artifacts(self, artifacts: dict[str, str]) -> TextClassifier:
        """Load from files: ``model`` (the train stage's model.pt), ``vocab`` (vocab.json) and
        ``preprocessing`` (the cleaning and tokenizing settings with the stopword list, as JSON)."""
        from pipelines.common.io import read_json
        from pipelines.models.saved import load_model
        from pipelines.text.preprocess import Preprocessor
        from pipelines.text.vocab import Vocabulary

        self.model, saved = load_model(artifacts["model"])
        self.class_names = saved["class_names"]
        config = read_json(artifacts["preprocessing"])
        vocabulary = Vocabulary.load(artifacts["vocab"])
        self.preprocessor = Preprocessor(config["clean"], config["tokenize"], config["stopwords"], vocabulary)
        return self

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Label and one ``probability_<class>`` column per class for each row's ``text``. The DataFrame hint
        keeps the explicitly logged signature (a ``text`` string column in, those columns out), which MLflow
        enforces on every call; a list of strings works too when called directly."""
        texts = _texts(model_input)
        probabilities = self.probabilities(texts)
        frame = pd.DataFrame({"label": np.asarray(self.class_names, dtype=object)[probabilities.argmax(axis=1)]})
        for index, name in enumerate(self.class_names):
            frame[f"probability_{name}"] = probabilities[:, index].astype(np.float64)
        return frame

    def probabilities(self, texts: list[str]) -> np.ndarray:
        import torch

        from pipelines.text.sequences import EncodedSplit
        from pipelines.training.loop import predict_probabilities

        if not texts:
            return np.zeros((0, len(self.class_names)))
        encoded = EncodedSplit.from_lists(self.preprocessor.encode(texts), [0] * len(texts))
        return predict_probabilities(self.model, encoded, PREDICT_BATCH, torch.device("cpu"))


def _texts(model_input: Any, column: str = "text") -> list[str]:
    """The input's texts; a missing text is an error naming its row, never the string "nan" or "None"."""
    if isinstance(model_input, pd.DataFrame):
        if column not in model_input.columns:
            raise ValueError(f"input needs a {column!r} column; got columns {list(model_input.columns)}")
        values = model_input[column].tolist()
    elif isinstance(model_input, str):
        values = [model_input]
    else:
        values = list(model_input)
    missing = [
        row for row, value in enumerate(values) if value is None or (isinstance(value, float) and np.isnan(value))
    ]
    if missing:
        raise ValueError(f"input row(s) {missing[:10]} have no text (null); give a string for every row")
    return [str(value) for value in values]


class TextGenerator(PythonModel):
    """A language model as a pyfunc: prefixes in (a ``prefix`` column, or strings), their continuations out.
    Sampling is chosen per call with MLflow params ``tokens``, ``temperature``, ``top_k`` and ``seed``; the same
    seed gives the same text in any process."""

    def load_context(self, context) -> None:
        self.load_artifacts(context.artifacts)

    def load_artifacts(self, artifacts: dict[str, str]) -> TextGenerator:
        """Load from files: ``model`` (model.pt), ``vocab`` (vocab.json) and ``preprocessing`` (see
        pipelines/serving/generation.py, ``language_model_config``)."""
        from pipelines.common.io import read_json
        from pipelines.models.saved import load_model
        from pipelines.serving.generation import TextGeneration
        from pipelines.text.vocab import Vocabulary

        model, _ = load_model(artifacts["model"])
        self.generation = TextGeneration(
            model, Vocabulary.load(artifacts["vocab"]), read_json(artifacts["preprocessing"])
        )
        return self

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from pipelines.serving.generation import DEFAULT_SAMPLING

        options = DEFAULT_SAMPLING | {key: value for key, value in (params or {}).items() if value is not None}
        prefixes = _texts(model_input, column="prefix")
        if not 1 <= int(options["tokens"]) <= MAX_GENERATED_TOKENS or len(prefixes) > MAX_PREFIXES:
            raise ValueError(
                f"a request may ask for 1 to {MAX_GENERATED_TOKENS} tokens for at most {MAX_PREFIXES} prefixes; got "
                f"tokens={options['tokens']} for {len(prefixes)} prefixes (a served model must not be made to work "
                "without bound)"
            )
        generated = [
            self.generation.continue_text(
                prefix,
                int(options["tokens"]),
                float(options["temperature"]),
                int(options["top_k"]),
                int(options["seed"]) + row,
            )
            for row, prefix in enumerate(prefixes)
        ]
        return pd.DataFrame({"prefix": prefixes, "generated": generated})
