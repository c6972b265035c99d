"""textflow_pipeline: the DVC stages of this project as Airflow tasks (built in pipelines/orchestration)."""

from pathlib import Path

from pipelines.orchestration.dags import build_pipeline_dag

dag = build_pipeline_dag(Path(__file__).resolve().parents[1])
