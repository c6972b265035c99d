#!/usr/bin/env bash
# `make airflow`: Airflow 3 on 127.0.0.1 with this project's dags/, metadata in the git-ignored airflow_home/.
# Starts api-server, scheduler, dag-processor and triggerer; Ctrl-C stops all four.
set -euo pipefail
cd "$(dirname "$0")/.."
export AIRFLOW_HOME="${AIRFLOW_HOME:-$PWD/airflow_home}"
export AIRFLOW__CORE__DAGS_FOLDER="$PWD/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
PORT="${AIRFLOW_PORT:-8080}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$PORT/execution/"
# One MLflow store for every DAG run's workspace: concurrent runs must not share one SQLite file, so point
# MLFLOW_TRACKING_URI at an `mlflow server` (e.g. `make ui`) when several runs may train at once.
export TEXTFLOW_PROJECT_ROOT="$PWD"

mkdir -p "$AIRFLOW_HOME"
airflow db migrate >/dev/null
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
airflow pools set gpu "$(( gpus > 0 ? gpus : 1 ))" "training slots: one per GPU (1 on a CPU-only machine)" >/dev/null

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' INT TERM EXIT
airflow api-server --host 127.0.0.1 --port "$PORT" >"$AIRFLOW_HOME/api-server.log" 2>&1 & pids+=($!)
airflow scheduler >"$AIRFLOW_HOME/scheduler.log" 2>&1 & pids+=($!)
airflow dag-processor >"$AIRFLOW_HOME/dag-processor.log" 2>&1 & pids+=($!)
airflow triggerer >"$AIRFLOW_HOME/triggerer.log" 2>&1 & pids+=($!)

for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$PORT/api/v2/monitor/health" >/dev/null 2>&1 && break
  sleep 1
done
password_file="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
echo "Airflow UI: http://127.0.0.1:$PORT  (logs in $AIRFLOW_HOME/*.log)"
[ -f "$password_file" ] && echo "login: $(cat "$password_file")"
wait
