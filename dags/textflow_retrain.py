"""textflow_retrain: the pipeline as an Airflow DAG scheduled on the data Asset textflow://data, with the
champion's params (built in pipelines/orchestration/retrain.py and dags.py)."""

from pathlib import Path

from pipelines.orchestration.dags import build_pipeline_dag
from pipelines.orchestration.retrain import RETRAIN_DAG_ID

dag = build_pipeline_dag(Path(__file__).resolve().parents[1], dag_id=RETRAIN_DAG_ID, retrain=True)
