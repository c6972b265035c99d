"""The served model in a run: the task's raw-text pyfunc (pipelines/serving/pyfunc.py), logged from code with its
artifacts, signature and pinned requirements; its URI is tagged for the registry gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.tracking import MODEL_URI_TAG


def log_text_model(artifacts: dict[str, Path], example: Any, task: str = "classification") -> str:
    """Log the task's raw-text pyfunc (see pipelines/serving/pyfunc.py) as ``model`` in the active run; ``example``
    is an input frame (texts to classify, or prefixes to continue). Returns the logged model's id."""
    import mlflow
    from mlflow.models import infer_signature

    import pipelines
    from pipelines.serving.generation import DEFAULT_SAMPLING
    from pipelines.serving.pyfunc import TextClassifier, TextGenerator

    package = Path(pipelines.__file__).parent
    if task == "language_model":
        served, entry, sampling = TextGenerator(), package / "serving" / "generator_entry.py", DEFAULT_SAMPLING
    else:
        served, entry, sampling = TextClassifier(), package / "serving" / "classifier_entry.py", None
    served.load_artifacts({name: str(path) for name, path in artifacts.items()})
    signature = infer_signature(example, served.predict(None, example, sampling), params=sampling)
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(entry),
        artifacts={name: str(path) for name, path in artifacts.items()},
        code_paths=[str(package)],
        signature=signature,
        input_example=example.head(3),
        pip_requirements=_pinned_requirements(),
    )
    mlflow.set_tag(MODEL_URI_TAG, info.model_uri)
    return info.model_id


def _pinned_requirements() -> list[str]:
    from importlib.metadata import version

    names = ["mlflow", "torch", "numpy", "pandas", "nltk", "jieba", "pyyaml"]
    return [f"{name}=={version(name).split('+')[0]}" for name in names]
