"""MLflow models-from-code entry point of a language model (see pipelines/serving/pyfunc.py, TextGenerator)."""

from mlflow.models import set_model

from pipelines.serving.pyfunc import TextGenerator

set_model(TextGenerator())
