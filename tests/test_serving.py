"""Train/serve skew and the predict command: the served model must see a raw text exactly as the pipeline's
stages saw it, so its accuracy on the test split's raw texts equals the evaluate stage's to the example."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import clone_project, run, served_test_accuracy_matches_evaluate, tool_env

pytestmark = pytest.mark.slow


def _raw_test_split(project: Path) -> pd.DataFrame:
    return pd.read_parquet(project / "data/validated/test.parquet")


def test_the_registered_pyfunc_reproduces_the_evaluate_stage_accuracy_exactly(reproduced_project):
    served_test_accuracy_matches_evaluate(reproduced_project, "textflow-demo")


def test_predict_local_file_and_stdin_give_the_registered_models_labels(reproduced_project, tmp_path):
    project = reproduced_project
    texts = _raw_test_split(project)["text"].head(8).tolist()
    env = tool_env({"MLFLOW_TRACKING_URI": ""})
    registered = run([sys.executable, "-m", "pipelines.serving.predict", *texts], project, env=env).stdout.splitlines()
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    local = run(
        [sys.executable, "-m", "pipelines.serving.predict", "--local", "--file", str(tmp_path / "texts.txt")],
        project,
        env=env,
    ).stdout.splitlines()
    piped = run(
        ["bash", "-c", f"{sys.executable} -m pipelines.serving.predict --local --file - < {tmp_path / 'texts.txt'}"],
        project,
        env=env,
    ).stdout.splitlines()
    assert len(registered) == len(texts)
    assert [line.split("\t")[0] for line in local] == [line.split("\t")[0] for line in registered]
    assert local == piped


def test_predict_errors_are_one_line(reproduced_project, tmp_path):
    env = tool_env({"MLFLOW_TRACKING_URI": ""})
    outside = run([sys.executable, "-m", "pipelines.serving.predict", "some text"], tmp_path, check=False, env=env)
    assert outside.returncode != 0 and "Traceback" not in outside.stderr
    assert "params.yaml: params file not found" in outside.stderr
    local = run([sys.executable, "-m", "pipelines.serving.predict", "--local", "x"], tmp_path, check=False, env=env)
    assert "not found" in local.stderr and "Traceback" not in local.stderr
    empty = run([sys.executable, "-m", "pipelines.serving.predict"], reproduced_project, check=False, env=env)
    assert "no text to classify" in empty.stderr


def test_a_null_text_is_an_error_not_the_string_nan(reproduced_project):

    from pipelines.serving.predict import load_local

    previous = Path.cwd()
    os.chdir(reproduced_project)
    try:
        model = load_local()
    finally:
        os.chdir(previous)
    with pytest.raises(ValueError, match=r"row\(s\) \[1\] have no text"):
        model.predict(None, pd.DataFrame({"text": ["fine", np.nan, "also fine"]}))
    with pytest.raises(ValueError, match=r"row\(s\) \[0\] have no text"):
        model.predict(None, pd.DataFrame({"text": [None]}))


@pytest.mark.parametrize("model_type", ["nb_ngrams", "tfidf_linear"])
def test_a_linear_ngram_model_trains_registers_and_serves_raw_text_like_the_evaluate_stage(
    model_type, reproduced_project, tmp_path
):
    """The linear n-gram models go the whole way of any model type: trained by the train stage (their
    statistics, NB log-count ratios or idf, from the training split), evaluated, registered, and served from the
    registry by the same raw-text pyfunc with the evaluate stage's accuracy to the example."""
    project = clone_project(reproduced_project, tmp_path / "project")
    name = f"demo-{model_type.replace('_', '-')}"
    overrides = ["-S", f"model.type={model_type}", "-S", "model.dropout=0.0", "-S", f"register.model_name={name}"]
    run(["dvc", "exp", "run", *overrides], project, env=tool_env({"MLFLOW_TRACKING_URI": ""}))
    evaluated = served_test_accuracy_matches_evaluate(project, name)
    assert evaluated["accuracy"] >= 0.75, evaluated


def test_predict_local_preprocesses_as_the_model_was_trained_not_as_params_yaml_says_now(reproduced_project, tmp_path):
    """Edit params.yaml's cleaning without re-running DVC: the local model still cleans as it was trained (the
    evaluate stage wrote models/preprocessing.json), and a language-model file is refused by name."""
    project = clone_project(reproduced_project, tmp_path / "project")
    env = tool_env({"MLFLOW_TRACKING_URI": ""})
    texts = ["SHARES FELL as the Bank RAISED rates", "The Striker scored TWICE"]

    def predict() -> list[str]:
        return run([sys.executable, "-m", "pipelines.serving.predict", "--local", *texts], project, env=env).stdout

    before = predict()
    params = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(params.replace("  lowercase: true", "  lowercase: false"))
    assert predict() == before, "the model's own preprocessing, not today's params.yaml"
    config = (project / "models" / "preprocessing.json").read_text()
    (project / "models" / "preprocessing.json").write_text(config.replace('"classification"', '"language_model"'))
    refused = run([sys.executable, "-m", "pipelines.serving.predict", "--local", "x"], project, check=False, env=env)
    assert refused.returncode == 1 and "is a language_model model" in refused.stderr
    assert "pipelines.serving.generate --local" in refused.stderr and "Traceback" not in refused.stderr
