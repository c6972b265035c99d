"""docker/ checked by the real tools (no Docker engine runs here): Compose's own `config`, the compose-spec
schema, hadolint; and the stack's promises that a typo would silently break."""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.conftest import ROOT

DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is installed by `pip install -e .[dev]`"
    return found


def compose_config() -> dict:
    """The stack as Compose resolves it (anchors merged, variables from .env.example substituted)."""
    command = [_tool("docker-compose"), "-f", str(COMPOSE), "--env-file", str(DOCKER / ".env.example")]
    result = subprocess.run(
        [*command, "--profile", "*", "config", "--format", "json"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_config_is_valid_for_compose_and_the_compose_spec_schema():
    compose_config()
    schema = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr


def test_dockerfile_passes_hadolint():
    result = subprocess.run([_tool("hadolint"), str(DOCKER / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_refuses_to_start_without_the_secrets_in_dot_env(tmp_path):
    """No default secret: a missing .env fails at `config`, naming the variable to set."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = subprocess.run(
        [_tool("docker-compose"), "-f", str(COMPOSE), "--env-file", str(empty), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0 and "docker/.env" in result.stderr, result.stderr


def test_every_long_running_service_has_a_health_check_and_waits_for_what_it_needs():
    services = compose_config()["services"]
    one_shot = {name for name, spec in services.items() if spec.get("restart") == "no"}
    assert one_shot == {"create-buckets", "airflow-init"}
    for name, spec in services.items():
        if name not in one_shot and not name.startswith("worker-"):
            assert "healthcheck" in spec, name
    for worker in ("worker-default", "worker-gpu"):
        needs = services[worker]["depends_on"]
        assert needs["airflow-init"]["condition"] == "service_completed_successfully"
        assert needs["mlflow"]["condition"] == needs["postgres"]["condition"] == "service_healthy"
    gpu = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"] and "--queues" in services["worker-gpu"]["command"]


def test_the_example_env_names_every_secret_compose_requires_and_real_env_files_stay_untracked():
    required = {
        line.split("${", 1)[1].split(":?", 1)[0]
        for line in COMPOSE.read_text().splitlines()
        if ":?" in line and "${" in line
    }
    example = {line.split("=", 1)[0] for line in (DOCKER / ".env.example").read_text().splitlines() if "=" in line}
    assert required and required <= example
    ignored = subprocess.run(["git", "check-ignore", "-q", "docker/.env"], cwd=ROOT, timeout=30)
    assert ignored.returncode == 0, "docker/.env (real secrets) must be git-ignored"


def test_the_build_context_holds_the_code_and_no_secret_data_or_history(tmp_path):
    """What `docker build` would send, by Docker's own .dockerignore rules (docker-py's implementation), for a
    checkout holding what a working machine has: real secrets, downloaded data, runs, MLflow, git history."""
    import shutil

    from docker.utils.build import exclude_paths

    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, tmp_path / name)
    present = [
        "docker/.env", ".env", ".git/config", ".cache/downloads/trusted.json", "data/raw/train.txt",
        "data/local/reviews.csv", "models/model.pt", "mlruns/mlflow.db", ".venv/bin/python", ".runs/run/params.yaml",
        "airflow_home/airflow.cfg", "test-artifacts/mlflow-runs.png", "reports/timings/train.json",
        "pipelines/__pycache__/config.cpython-311.pyc", "tests/browser/node_modules/x.js",
    ]  # fmt: skip
    for name in present:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("secret or bulky\n")
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    context = set(exclude_paths(str(tmp_path), patterns, dockerfile="docker/Dockerfile"))
    leaked = sorted(name for name in present if name in context)
    assert not leaked, f"the image would hold {leaked}"
    needed = {"pyproject.toml", "README.md", "pipelines/stages/train.py", "dags/textflow_pipeline.py", "dvc.yaml"}
    assert needed <= context, sorted(needed - context)
    assert not any(name.startswith(("tests/", "benchmarks/", "docs/")) for name in context)
