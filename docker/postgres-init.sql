-- The Airflow database is POSTGRES_DB; MLflow keeps runs and its users in databases of their own.
CREATE DATABASE mlflow;
CREATE DATABASE mlflow_auth;
