"""Airflow glue, importable and testable without a scheduler; the files in ``dags/`` only call into here."""
