#!/usr/bin/env bash
# `make airflow`: Airflow 3 on 127.0.0.1 with this project's dags/, metadata in the git-ignored airflow_home/.
# Starts an `mlflow server` over the project's store (unless MLFLOW_TRACKING_URI is set), then api-server,
# scheduler, dag-processor and triggerer; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
export AIRFLOW_HOME="${AIRFLOW_HOME:-$PWD/airflow_home}"
export AIRFLOW__CORE__DAGS_FOLDER="$PWD/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
PORT="${AIRFLOW_PORT:-8080}"
MLFLOW_PORT="${MLFLOW_PORT:-5000}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$PORT/execution/"
export TEXTFLOW_PROJECT_ROOT="$PWD"
# One training per GPU (1 on a CPU-only machine: concurrent trainings on shared cores are slower than queued
# ones); the pool is shared by textflow_pipeline and textflow_sweep, and trainings size their threads by it.
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
export TEXTFLOW_TRAINING_SLOTS="${TEXTFLOW_TRAINING_SLOTS:-$(( gpus > 0 ? gpus : 1 ))}"
export TEXTFLOW_GPU_POOL="${TEXTFLOW_GPU_POOL:-gpu}"

pids=()
stop_all() {
  local status=$?
  if [ ${#pids[@]} -gt 0 ]; then kill "${pids[@]}" 2>/dev/null; wait; fi
  exit "$status"
}
trap stop_all INT TERM EXIT

wait_healthy() {  # url, seconds, name
  for _ in $(seq 1 "$2"); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "$3 did not become healthy at $1 within $2 s; see the logs in $AIRFLOW_HOME" >&2
  exit 1
}

# airflow.cfg holds generated JWT and API secrets and the admin password file sits beside it: owner only.
(umask 077 && mkdir -p "$AIRFLOW_HOME")
chmod 700 "$AIRFLOW_HOME"
umask 077
mkdir -p mlruns
# Concurrent DAG runs write one MLflow store; SQLite takes one writer at a time, so every run goes through
# one `mlflow server` in front of it (the same store `make ui` shows). A server this script did not start is
# never adopted silently: it may be another user's or another project's, and runs and champions would go there.
if [ -z "${MLFLOW_TRACKING_URI:-}" ]; then
  if curl -fsS "http://127.0.0.1:$MLFLOW_PORT/health" >/dev/null 2>&1; then
    echo "port $MLFLOW_PORT already has an MLflow server that make airflow did not start. To use it, say so:" \
      "MLFLOW_TRACKING_URI=http://127.0.0.1:$MLFLOW_PORT make airflow; else pick a free MLFLOW_PORT." >&2
    exit 1
  fi
  mlflow server --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
    --backend-store-uri "sqlite:///$PWD/mlruns/mlflow.db" --artifacts-destination "$PWD/mlruns/artifacts" \
    >"$AIRFLOW_HOME/mlflow.log" 2>&1 & pids+=($!)
  wait_healthy "http://127.0.0.1:$MLFLOW_PORT/health" 120 "mlflow server"
  export MLFLOW_TRACKING_URI="http://127.0.0.1:$MLFLOW_PORT"
  echo "MLflow UI: $MLFLOW_TRACKING_URI"
fi

airflow db migrate >/dev/null
airflow pools set "$TEXTFLOW_GPU_POOL" "$TEXTFLOW_TRAINING_SLOTS" "training slots: one per GPU (1 on a CPU-only machine)" >/dev/null

airflow api-server --host 127.0.0.1 --port "$PORT" >"$AIRFLOW_HOME/api-server.log" 2>&1 & pids+=($!)
airflow scheduler >"$AIRFLOW_HOME/scheduler.log" 2>&1 & pids+=($!)
airflow dag-processor >"$AIRFLOW_HOME/dag-processor.log" 2>&1 & pids+=($!)
airflow triggerer >"$AIRFLOW_HOME/triggerer.log" 2>&1 & pids+=($!)

wait_healthy "http://127.0.0.1:$PORT/api/v2/monitor/health" 120 "Airflow api-server"
password_file="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
echo "Airflow UI: http://127.0.0.1:$PORT  (logs in $AIRFLOW_HOME/*.log)"
[ -f "$password_file" ] && echo "login: $(cat "$password_file")"
# Until the first service exits (Ctrl-C, or one that died): then the trap stops the others.
set +e
wait -n "${pids[@]}"
echo "a service of make airflow exited; stopping the others (logs in $AIRFLOW_HOME)" >&2
