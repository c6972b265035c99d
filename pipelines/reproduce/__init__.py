"""``python -m pipelines.reproduce``: rebuild the run behind a model and compare it with what the run recorded
(the command is ``__main__.py``; the rebuild is pipelines/orchestration/reproduction.py)."""
