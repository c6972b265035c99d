"""The one place that talks to MLflow, one module per concern: :mod:`~pipelines.tracking.store` (where the
store is, connecting, experiments), :mod:`~pipelines.tracking.runs` (a training's run and its tags),
:mod:`~pipelines.tracking.scores` (evaluation metrics, data hashes and the logged model's URI) and
:mod:`~pipelines.tracking.gate` (the registry gate, which reads all of them). Logging the served pyfunc itself
is pipelines/serving/logged.py, a layer above: it needs the serving code.
"""

from pipelines.tracking.runs import (
    PARENT_ENV,
    TrainingRun,
    airflow_tags,
    changed_params,
    existing_run_id,
    git_tags,
    log_sweep_results,
    registered_name,
    resumed_run,
    run_id_from,
    run_name,
    start_parent_run,
    training_run,
    upstream_metrics,
)
from pipelines.tracking.scores import (
    DATA_HASH_TAG,
    MODEL_URI_TAG,
    VALID_DATA_HASH_TAG,
    ScoredSplit,
    log_evaluation,
    log_scores,
    split_metrics,
)
from pipelines.tracking.store import (
    SCORES_VIEW,
    SCORES_VIEW_STATE,
    SCORES_VIEW_TAG,
    TrackingError,
    connect,
    describe_store,
    experiment_id,
    tracking_uri,
)

__all__ = [
    "DATA_HASH_TAG",
    "MODEL_URI_TAG",
    "PARENT_ENV",
    "SCORES_VIEW",
    "SCORES_VIEW_STATE",
    "SCORES_VIEW_TAG",
    "VALID_DATA_HASH_TAG",
    "ScoredSplit",
    "TrackingError",
    "TrainingRun",
    "airflow_tags",
    "changed_params",
    "connect",
    "describe_store",
    "existing_run_id",
    "experiment_id",
    "git_tags",
    "log_evaluation",
    "log_scores",
    "registered_name",
    "resumed_run",
    "run_id_from",
    "run_name",
    "split_metrics",
    "log_sweep_results",
    "start_parent_run",
    "training_run",
    "tracking_uri",
    "upstream_metrics",
]
