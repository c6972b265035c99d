"""MLflow models-from-code entry point of a language model (see pipelines/serving.py, TextGenerator)."""

from mlflow.models import set_model

from pipelines.serving import TextGenerator

set_model(TextGenerator())
