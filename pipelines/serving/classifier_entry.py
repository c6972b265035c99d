"""MLflow models-from-code entry point: loading the logged model runs this file, so the model object is
built from code instead of unpickled (see pipelines/serving/pyfunc.py for the model itself)."""

from mlflow.models import set_model

from pipelines.serving.pyfunc import TextClassifier

set_model(TextClassifier())
