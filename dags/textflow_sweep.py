"""textflow_sweep: an Airflow DAG fanning out a grid of trainings by dynamic task mapping; the best is
registered. (Airflow only parses files that mention both "airflow" and "dag".)"""

from pathlib import Path

from pipelines.orchestration.dags import build_sweep_dag

dag = build_sweep_dag(Path(__file__).resolve().parents[1])
