# textflow: `make run` trains on the offline demo corpus, `make test` runs the whole test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
export PATH := $(BIN):$(PATH)
# MLflow 3's usage telemetry sets an environment variable from one thread while requests reads the environment in
# another (seen: "KeyError: '_MLFLOW_TELEMETRY_SESSION_ID'" failing a task); docker/compose.yaml sets it too.
export MLFLOW_DISABLE_TELEMETRY ?= true
# Every `mlflow server` started from here (make ui, make airflow, make cluster, the tests') runs without MLflow 3's
# server jobs: textflow submits none, and by default each server starts a pool of job consumers, each a Python
# process with mlflow imported (cluster.serve_mlflow sets the same for compose, which has no make).
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION ?= false

.PHONY: setup run test test-stack lint ui airflow cluster runs-prune gc clean-outputs

setup: $(STAMP)

# torch is pinned to 2.13.0 in pyproject.toml: pip takes the local CPU wheel for exactly that version.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

run: setup
	dvc repro
	python -m pipelines.evaluation.summary

# pytest-xdist workers, one test module each at a time. Two on two cores: much of a test's time is waiting on a
# service (Airflow's scheduler, a server restart), which the other worker fills (2 cores: 50 min in one process,
# about 25 with 2 workers). 3 workers measured 22.5 min once and 34 the next time, past two tests' deadlines.
# TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2
test: setup
	python -m pytest -n $(TEST_WORKERS)

# docker/Dockerfile built and docker/compose.yaml brought up with podman, a DAG run through it (tests/stack/).
test-stack: setup
	tests/stack/setup-podman.sh
	python -m pytest -m stack tests/stack

# The MLflow UI over the project's local store (the one the stages write to when MLFLOW_TRACKING_URI is unset).
UI_PORT ?= 5000
ui: setup
	mkdir -p mlruns
	mlflow server --host 127.0.0.1 --port $(UI_PORT) --workers 1 \
	  --backend-store-uri sqlite:///$(CURDIR)/mlruns/mlflow.db --artifacts-destination $(CURDIR)/mlruns/artifacts

airflow: setup
	scripts/airflow-local.sh

# The distributed stack of docker/compose.yaml on this machine without Docker: PostgreSQL, Redis, an S3 endpoint
# (moto), MLflow with basic auth, Airflow on Celery with a `default` and a `gpu` worker. Needs Debian's
# postgresql and redis-server packages. Ctrl-C stops it.
cluster: setup
	python -m pipelines.orchestration.cluster up

# Run workspaces under .runs/ (one per Airflow run) grow with every run; keep the newest KEEP.
KEEP ?= 20
runs-prune: setup
	python -m pipelines.orchestration.runs prune --keep $(KEEP)

# `dvc gc -w` alone would delete cache objects that only the run workspaces use.
gc: setup
	python -m pipelines.orchestration.runs gc

lint: setup
	ruff check pipelines tests benchmarks dags scripts
	ruff format --check pipelines tests benchmarks dags scripts
	hadolint docker/Dockerfile
	docker-compose -f docker/compose.yaml --env-file docker/.env.example --profile '*' config --quiet

clean-outputs:
	rm -rf data models reports/*.csv reports/*.png
