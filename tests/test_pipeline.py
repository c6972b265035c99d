"""The whole pipeline through DVC, in a throw-away copy of the project on a small demo corpus."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import copy_project, kill_on_output, merge, run, tool_env, write_params

pytestmark = pytest.mark.slow
STAGES = ["download", "validate", "clean", "tokenize", "embed", "train", "evaluate", "register"]
SMALL = {
    "dataset": {"demo": {"train_size": 900, "test_size": 300}},
    "embed": {"dim": 32, "epochs": 2},
    "model": {"embedding_dim": 32, "textcnn": {"num_filters": 16}},
    "train": {"epochs": 4, "batch_size": 32, "learning_rate": 0.01},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A git + DVC copy of the project with small params (tracking into its own mlruns/), reproduced once."""
    project = copy_project(tmp_path_factory.mktemp("project"), SMALL)
    result = run(["dvc", "repro"], project, env=tool_env({"MLFLOW_TRACKING_URI": ""}))
    project.joinpath("first-repro.log").write_text(result.stdout + result.stderr)
    return project


def test_repro_writes_every_stage_output_and_metrics(project):
    log = (project / "first-repro.log").read_text()
    assert [re.search(f"Running stage '{stage}'", log) is not None for stage in STAGES] == [True] * len(STAGES)
    for output in [
        "data/raw/manifest.json",
        "data/validated/test.parquet",
        "data/tokens/vocab.json",
        "data/embeddings/vectors.npy",
        "models/model.pt",
        "reports/confusion.png",
        "reports/confusion.csv",
    ]:
        assert (project / output).exists(), output
    metrics = json.loads((project / "reports/metrics.json").read_text())["test"]
    assert metrics["examples"] == 300
    assert metrics["accuracy"] > 0.6, "a small TextCNN must beat 4-class chance (0.25) by far"
    assert set(metrics["per_class"]) == {"finance", "health", "sports", "technology"}
    assert json.loads((project / "reports/validation.json").read_text())["success"] is True
    assert json.loads((project / "reports/tokenize.json").read_text())["vocab_size"] > 100


def test_second_repro_skips_every_stage(project):
    result = run(["dvc", "repro"], project)
    output = result.stdout + result.stderr
    assert "Running stage" not in output
    for stage in STAGES:
        assert f"Stage '{stage}' didn't change, skipping" in output


def test_dvc_metrics_plots_and_dag_show_the_pipeline(project):
    assert "test.accuracy" in run(["dvc", "metrics", "show"], project).stdout
    dag = run(["dvc", "dag", "--md"], project).stdout
    assert all(stage in dag for stage in STAGES)
    plots = run(["dvc", "plots", "show", "-o", str(project / "plots-html")], project)
    assert (project / "plots-html" / "index.html").exists(), plots.stdout


def test_experiment_reruns_only_what_the_parameter_touches(project):
    result = run(["dvc", "exp", "run", "-S", "model.type=bilstm", "-S", "model.rnn.hidden_size=16"], project)
    output = result.stdout + result.stderr
    ran = re.findall(r"Running stage '(\w+)'", output)
    assert ran == ["train", "evaluate", "register"], output
    saved = torch.load(project / "models/model.pt", weights_only=True)
    assert saved["model_params"]["type"] == "bilstm"


def test_unknown_param_stops_the_stage_with_one_clear_line(project, tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text((project / "params.yaml").read_text() + "\nmodle: {type: bigru}\n")
    result = run(
        [
            sys.executable,
            "-m",
            "pipelines.stages.tokenize",
            "--params",
            str(bad),
            "--data",
            "data/clean",
            "--out",
            str(tmp_path / "tokens"),
            "--metrics",
            str(tmp_path / "m.json"),
        ],
        project,
        check=False,
    )
    assert result.returncode == 1
    assert "unknown key 'modle'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "tokens").exists()


def test_corrupted_download_fails_and_leaves_no_output(project, tmp_path, mirror):
    corrupted = tmp_path / "mirror"
    shutil.copytree(mirror, corrupted)
    trec = next(corrupted.rglob("TREC.test.all"))
    trec.chmod(0o644)
    trec.write_text(trec.read_text(encoding="latin-1")[:-500], encoding="latin-1")
    write_params(tmp_path, {"dataset": {"name": "trec"}})
    env_out = tmp_path / "raw"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.stages.download",
            "--params",
            str(tmp_path / "params.yaml"),
            "--out",
            str(env_out),
            "--stopwords",
            str(tmp_path / "stopwords.txt"),
            "--extra-text",
            str(tmp_path / "extra.txt"),
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"TEXTFLOW_MIRROR": str(corrupted), "TEXTFLOW_CACHE": str(tmp_path / "cache")},
    )
    assert result.returncode == 1
    assert "sha256 mismatch" in result.stderr and "TREC.test.all" in result.stderr
    assert not env_out.exists() and not list(tmp_path.glob(".raw.*"))


def test_validation_failure_stops_with_a_readable_summary(project, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(project / "data/raw", raw)
    test_file = raw / "test.txt"
    test_file.chmod(0o644)
    test_file.write_text(test_file.read_text() + "astrology The stars are aligned today.\n")
    result = run(
        [
            sys.executable,
            "-m",
            "pipelines.stages.validate",
            "--raw",
            str(raw),
            "--out",
            str(tmp_path / "validated"),
            "--report",
            str(tmp_path / "validation.json"),
        ],
        project,
        check=False,
    )
    assert result.returncode == 1
    assert "[test] expect_column_values_to_be_in_set on column 'label': 1 of 301 rows unexpected" in result.stderr
    assert not (tmp_path / "validated").exists()
    assert json.loads((tmp_path / "validation.json").read_text())["success"] is False


def _train_command(out: Path, params: Path) -> list[str]:
    options = {
        "params": params,
        "tokens": "data/tokens",
        "validated": "data/validated",
        "reports": "reports",
        "embeddings": "data/embeddings/vectors.npy",
        "model": out / "model.pt",
        "checkpoint": out / "checkpoint.pt",
        "metrics": out / "train.json",
        "history": out / "history.csv",
        "run": out / "run.json",
    }
    return [sys.executable, "-m", "pipelines.stages.train", *(f"--{k}={v}" for k, v in options.items())]


def test_killed_training_resumes_to_the_uninterrupted_result(project, tmp_path):
    params = tmp_path / "params.yaml"
    update = {"train": {"epochs": 6, "patience": 10}, "tracking": {"enabled": False}}
    write_params(tmp_path, merge(json.loads(json.dumps(SMALL)), update))
    uninterrupted, resumed = tmp_path / "uninterrupted", tmp_path / "resumed"
    run(_train_command(uninterrupted, params), project)

    kill_on_output(_train_command(resumed, params), project, tool_env(), "epoch 3/6")
    assert not (resumed / "model.pt").exists(), "the run was killed before it could finish"
    assert torch.load(resumed / "checkpoint.pt", weights_only=True)["epoch"] >= 2

    result = run(_train_command(resumed, params), project)
    assert json.loads((resumed / "run.json").read_text())["run_id"] is None, "tracking.enabled: false logs nothing"
    assert re.search(r"resumed from checkpoint .* after epoch [2-5]", result.stderr)
    expected = torch.load(uninterrupted / "model.pt", weights_only=True)["state_dict"]
    actual = torch.load(resumed / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(expected[name], actual[name]) for name in expected)
    assert (uninterrupted / "history.csv").read_text().splitlines()[1:] != []
    history = [line.split(",")[:5] for line in (resumed / "history.csv").read_text().splitlines()]
    assert history == [line.split(",")[:5] for line in (uninterrupted / "history.csv").read_text().splitlines()]
