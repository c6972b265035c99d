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

from pipelines.common.errors import INPUT_ERROR_EXIT
from pipelines.stages.train import standalone_command
from tests.conftest import (
    ROOT,
    SMALL_PIPELINE,
    STAGES,
    clone_project,
    copy_project,
    kill_on_output,
    merge,
    run,
    tool_env,
    write_params,
)

pytestmark = pytest.mark.slow
SMALL = SMALL_PIPELINE


@pytest.fixture
def project(reproduced_project) -> Path:
    return reproduced_project


def test_repro_writes_every_stage_output_and_metrics(project):
    log = (project / "first-repro.log").read_text()
    assert [re.search(f"Running stage '{stage}'", log) is not None for stage in STAGES] == [True] * len(STAGES)
    for output in [
        "data/raw/manifest.json",
        "data/validated/test.parquet",
        "data/tokens/vocab.json",
        "data/embeddings/vectors.npy",
        "models/model.pt",
        "reports/evaluation/confusion.png",
        "reports/evaluation/confusion.csv",
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
    assert re.findall(r"Running stage '(\w+)'", output) == ["local_files"], "only the always-changed file hashing"
    for stage in STAGES[1:]:
        assert f"Stage '{stage}' didn't change, skipping" in output


def test_python_bytecode_beside_the_code_is_not_a_changed_dependency(project, tmp_path):
    """Python writes ``__pycache__/`` beside each module it imports (unless PYTHONDONTWRITEBYTECODE is set, as
    on the machine the suite runs on): DVC must not count that as a change to the code directories the stages
    depend on, or on a user's machine the first import makes every stage look modified and rewrites dvc.lock."""
    copy = clone_project(project, tmp_path / "copy")
    run([sys.executable, "-m", "compileall", "-q", "pipelines", "dags"], copy)
    assert list(copy.glob("pipelines/data/__pycache__/*.pyc")), "compileall wrote bytecode beside the code"
    status = json.loads(run(["dvc", "status", "--json"], copy).stdout or "{}")
    assert status == {"local_files": ["always changed"]}, status


def _mlflow_counts(project: Path) -> tuple[int, int]:
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("textflow")
    return len(client.search_runs([experiment.experiment_id])), len(
        client.search_model_versions("name='textflow-demo'")
    )


def test_rerunning_an_unchanged_upstream_stage_neither_retrains_nor_registers(project, tmp_path):
    copy = clone_project(project, tmp_path / "copy")
    before = _mlflow_counts(copy)
    forced = run(
        ["dvc", "repro", "--force", "--single-item", "tokenize"], copy, env=tool_env({"MLFLOW_TRACKING_URI": ""})
    )
    assert "Running stage 'tokenize'" in forced.stdout + forced.stderr
    again = run(["dvc", "repro"], copy, env=tool_env({"MLFLOW_TRACKING_URI": ""}))
    ran = re.findall(r"Running stage '(\w+)'", again.stdout + again.stderr)
    assert ran == ["local_files"], f"tokenize wrote the same bytes, so nothing downstream may run: {ran}"
    assert _mlflow_counts(copy) == before, "no new MLflow run, no new model version"


def test_an_embed_param_does_not_retrain_a_model_that_reads_no_vectors(project, tmp_path):
    copy = clone_project(project, tmp_path / "copy")
    result = run(["dvc", "exp", "run", "-S", "embed.dim=16", "-S", "embed.window=2"], copy)
    assert re.findall(r"Running stage '(\w+)'", result.stdout + result.stderr) == ["local_files", "embed"]


def test_identical_inputs_give_byte_identical_outputs(project, tmp_path):
    """Every stage forced to run again from scratch (no checkpoint) writes the same bytes; only the MLflow
    run id (and so the register report) is new."""
    copy = clone_project(project, tmp_path / "copy")
    (copy / "models" / "checkpoint.pt").unlink()
    run(["dvc", "repro", "--force"], copy, env=tool_env({"MLFLOW_TRACKING_URI": ""}))
    identities = {"reports/mlflow_run.json", "reports/register.json", "first-repro.log"}
    compared = 0
    for path in (
        sorted((project / "data").rglob("*"))
        + sorted((project / "models").rglob("*"))
        + sorted((project / "reports").glob("*.*"))
    ):
        relative = str(path.relative_to(project))
        if path.is_file() and relative not in identities and "checkpoint" not in relative:
            assert (copy / relative).read_bytes() == path.read_bytes(), f"{relative} differs between two runs"
            compared += 1
    assert compared >= 20


def test_dvc_metrics_plots_and_dag_show_the_pipeline(project):
    assert "test.accuracy" in run(["dvc", "metrics", "show"], project).stdout
    dag = run(["dvc", "dag", "--md"], project).stdout
    assert all(stage in dag for stage in STAGES)
    plots = run(["dvc", "plots", "show", "-o", str(project / "plots-html")], project)
    assert (project / "plots-html" / "index.html").exists(), plots.stdout


def test_experiment_reruns_only_what_the_parameter_touches(project, tmp_path):
    copy = clone_project(project, tmp_path / "copy")
    result = run(["dvc", "exp", "run", "-S", "model.type=bilstm", "-S", "model.rnn.hidden_size=16"], copy)
    output = result.stdout + result.stderr
    ran = re.findall(r"Running stage '(\w+)'", output)
    assert sorted(ran) == ["evaluate", "keywords", "local_files", "register", "train"], output
    saved = torch.load(copy / "models/model.pt", weights_only=True)
    assert saved["model_params"]["type"] == "bilstm"


def test_a_training_seed_retrains_on_the_same_data(project, tmp_path):
    copy = clone_project(project, tmp_path / "copy")
    result = run(["dvc", "exp", "run", "-S", "train.seed=7"], copy)
    ran = re.findall(r"Running stage '(\w+)'", result.stdout + result.stderr)
    assert sorted(ran) == ["evaluate", "keywords", "local_files", "register", "train"]
    validated = (copy / "data/validated/valid.parquet").read_bytes()
    assert validated == (project / "data/validated/valid.parquet").read_bytes(), "same validation set"
    assert not torch.equal(
        torch.load(copy / "models/model.pt", weights_only=True)["state_dict"]["output.weight"],
        torch.load(project / "models/model.pt", weights_only=True)["state_dict"]["output.weight"],
    )


def test_a_weight_decay_written_as_1e_5_trains_with_that_number(project, tmp_path):
    """``dvc exp run -S train.weight_decay=1e-5`` leaves ``weight_decay: 1e-05`` in params.yaml (DVC writes YAML
    1.2); the train stage reads it as the number DVC shows, not as the string YAML 1.1 would make it."""
    from pipelines.config import load_params

    copy = clone_project(project, tmp_path / "copy")
    result = run(["dvc", "exp", "run", "-S", "train.weight_decay=1e-5"], copy)
    assert "Running stage 'train'" in result.stdout + result.stderr
    assert "weight_decay: 1e-05" in (copy / "params.yaml").read_text()
    assert load_params(copy / "params.yaml").train.weight_decay == 1e-5


def test_an_edited_local_data_file_is_a_changed_input(tmp_path):
    """DVC cannot see a file named by a param; the local_files stage hashes it, so an edit re-runs download
    (and the run-cache cannot hand back the old data)."""
    project = copy_project(tmp_path / "local", {})
    data = project / "data" / "local" / "my-data.txt"
    data.parent.mkdir(parents=True)
    data.write_text("".join(f"{label} {label} example number {i}\n" for i in range(30) for label in ("yes", "no")))
    write_params(project, {"dataset": {"name": "local", "local": {"train": "my-data.txt"}}})
    first = run(["dvc", "repro", "download"], project)
    assert "Running stage 'download'" in first.stdout
    unchanged = run(["dvc", "repro", "download"], project)
    assert "Stage 'download' didn't change" in unchanged.stdout
    data.write_text(data.read_text() + "yes an added line\n")
    edited = run(["dvc", "repro", "download"], project)
    assert "Running stage 'download'" in edited.stdout
    assert (project / "data/raw/train.txt").read_text().endswith("yes an added line\n")


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
    assert result.returncode == INPUT_ERROR_EXIT, "a retry cannot fix it: Airflow fails the task at once"
    assert "unknown key 'modle'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "tokens").exists()


def test_corrupted_download_fails_and_leaves_no_output(project, tmp_path):
    """A generated mirror whose TREC files are not the published ones: their checksums cannot match."""
    from pipelines.data.registry import DATASETS

    corrupted = tmp_path / "mirror"
    for remote in DATASETS["trec"].splits.values():
        path = corrupted / remote.url.split("://", 1)[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(f"DESC:def what is item {i} ?\n" for i in range(50))
        path.write_text(lines, encoding="latin-1")
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
    assert "sha256 mismatch" in result.stderr and "TREC.train.all" in result.stderr
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
    assert result.returncode == INPUT_ERROR_EXIT
    assert "[test] expect_column_values_to_be_in_set on column 'label': 1 of 301 rows unexpected" in result.stderr
    assert not (tmp_path / "validated").exists()
    assert json.loads((tmp_path / "validation.json").read_text())["success"] is False


def _train_command(out: Path, params: Path) -> list[str]:
    return standalone_command(ROOT, params, out)


def test_killed_training_resumes_to_the_uninterrupted_result(project, tmp_path):
    params = tmp_path / "params.yaml"
    update = {"train": {"epochs": 6, "patience": 10}, "tracking": {"enabled": False}}
    write_params(tmp_path, merge(SMALL, update))
    uninterrupted, resumed = tmp_path / "uninterrupted", tmp_path / "resumed"
    run(_train_command(uninterrupted, params), project)

    kill_on_output(_train_command(resumed, params), project, tool_env(), "epoch 3/6")
    assert not (resumed / "model.pt").exists(), "the run was killed before it could finish"
    assert torch.load(resumed / "checkpoint.pt", weights_only=True)["epoch"] >= 2

    result = run(_train_command(resumed, params), project)
    assert json.loads((resumed / "run.json").read_text())["run_id"] is None, "tracking.enabled: false logs nothing"
    assert re.search(r"resumed from checkpoint .* after epoch [2-5]", result.stderr)
    for name in ("model.pt", "history.csv", "train.json"):
        assert (resumed / name).read_bytes() == (uninterrupted / name).read_bytes(), f"{name} differs after resuming"
    assert len((resumed / "history.csv").read_text().splitlines()) == 1 + 6, "a header and all six epochs"


def test_a_training_restored_from_another_mlflow_store_is_refused_with_the_way_out(project, tmp_path):
    """DVC's run-cache can hand back a training (and its run id) logged to another store: a deleted mlruns/, a
    new MLFLOW_TRACKING_URI. The next stage says so in one line and what to run; that command recovers."""
    copy = clone_project(project, tmp_path / "copy")
    shutil.rmtree(copy / "mlruns")
    env = tool_env({"MLFLOW_TRACKING_URI": ""})
    refused = run(["dvc", "repro", "--force", "--single-item", "evaluate"], copy, env=env, check=False)
    lines = [line for line in (refused.stdout + refused.stderr).splitlines() if line.startswith("[evaluate] error")]
    assert refused.returncode != 0 and len(lines) == 1, refused.stderr
    assert "is not in the project's store" in lines[0] and "dvc repro --force --single-item train" in lines[0]
    assert "Traceback" not in refused.stdout + refused.stderr
    run(["dvc", "repro", "--force", "--single-item", "train"], copy, env=env)
    run(["dvc", "repro"], copy, env=env)
    assert json.loads((copy / "reports/register.json").read_text())["version"] == 1


def test_two_concurrent_trainings_on_a_two_gpu_machine_each_get_their_own_gpu(project, tmp_path):
    """The train stage claims a GPU before torch sees CUDA; nvidia-smi here is a stand-in listing two."""
    from tests.test_training import fake_gpu_machine

    params = tmp_path / "params.yaml"
    write_params(tmp_path, merge(SMALL, {"train": {"epochs": 2}, "tracking": {"enabled": False}}))
    environment = tool_env(fake_gpu_machine(tmp_path))
    trainings = [
        subprocess.Popen(
            _train_command(tmp_path / f"training-{index}", params),
            cwd=project,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for index in range(2)
    ]
    logs = [training.communicate(timeout=600)[0] for training in trainings]
    assert all(training.returncode == 0 for training in trainings), logs
    claimed = [re.search(r"claimed GPU (\S+),", log).group(1) for log in logs]
    assert sorted(claimed) == ["GPU-aaaaaaaa-0000", "GPU-bbbbbbbb-1111"]
