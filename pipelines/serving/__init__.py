"""A trained model put to use: the MLflow pyfunc models (pyfunc, with their models-from-code entry points),
logging them to a run (logged), text generation for language models (generation) and the command lines
``python -m pipelines.serving.predict`` and ``python -m pipelines.serving.generate``."""
