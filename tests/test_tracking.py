"""MLflow tracking and the registry against a real `mlflow server` on loopback (no mocks)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.tracking import SCORES_VIEW
from tests.conftest import (
    assert_shows_content,
    chromium,
    copy_project,
    free_port,
    run,
    running_mlflow_server,
    stop,
    tool_env,
    wait_healthy,
)

pytestmark = pytest.mark.slow
SMALL = {
    "dataset": {"demo": {"train_size": 900, "test_size": 300}},
    "embed": {"dim": 32, "epochs": 2},
    "model": {"embedding_dim": 32, "textcnn": {"num_filters": 16}},
    "train": {"epochs": 4, "batch_size": 32, "learning_rate": 0.01},
}
MODEL = "textflow-demo"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    with running_mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as uri:
        yield uri


@pytest.fixture(scope="module")
def tracked_project(tmp_path_factory, mlflow_server):
    project = copy_project(tmp_path_factory.mktemp("tracked"), {**SMALL, "train": {**SMALL["train"], "epochs": 1}})
    # a sample every half second: the small trainings here last a few seconds
    env = tool_env({"MLFLOW_TRACKING_URI": mlflow_server, "TEXTFLOW_SYSTEM_METRICS_SECONDS": "0.5"})
    first = run(["dvc", "repro"], project, env=env)
    better = run(["dvc", "exp", "run", "-S", "train.epochs=4"], project, env=env)
    return project, env, first.stdout + first.stderr, better.stdout + better.stderr


@pytest.fixture
def client(mlflow_server, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    mlflow.set_tracking_uri(mlflow_server)
    return mlflow.MlflowClient()


def test_run_holds_params_metrics_artifacts_tags_and_input(tracked_project, client):
    project, _, _, _ = tracked_project
    run_id = json.loads((project / "reports/mlflow_run.json").read_text())["run_id"]
    run_data = client.get_run(run_id)
    params, metrics, tags = run_data.data.params, run_data.data.metrics, run_data.data.tags
    assert params["model.type"] == "textcnn" and params["clean.stopwords"] == "none" and params["train.epochs"] == "4"
    assert params["model.textcnn.kernel_sizes"] == "[3, 4, 5]"
    for key in [
        "validation.statistics.train.rows",
        "tokenize.vocab_size",
        "tokenize.splits.test.oov_rate",
        "embed.coverage",
        "test_accuracy",
        "test_macro_f1",
        "test_sports_f1",
        "best_valid_accuracy",
    ]:
        assert key in metrics, key
    assert metrics["test_accuracy"] > 0.6
    assert len(client.get_metric_history(run_id, "valid_accuracy")) == 4
    assert tags["textflow.dataset"] == "demo" and tags["textflow.device"] == "cpu"
    assert len(tags["mlflow.source.git.commit"]) == 40 and tags["git.dirty"] in ("true", "false")
    assert len(tags["textflow.data_sha256.train"]) == 64 and len(tags["textflow.test_data_sha256"]) == 64
    artifacts = {item.path for item in client.list_artifacts(run_id, "reports")}
    for name in [
        "metrics.json",
        "confusion.png",
        "validation.json",
        "params.yaml",
        "dvc.lock",
        "vocab.json",
        "classification_report.txt",
    ]:
        assert f"reports/{name}" in artifacts, name
    assert "misclassified_test_examples.json" in {item.path for item in client.list_artifacts(run_id)}
    inputs = {
        {tag.key: tag.value for tag in item.tags}["mlflow.data.context"]: item
        for item in run_data.inputs.dataset_inputs
    }
    assert inputs["training"].dataset.name == "demo"
    splits = {"validation": ("valid", "textflow.valid_data_sha256"), "test": ("test", "textflow.test_data_sha256")}
    for context, (split, hash_tag) in splits.items():
        logged = inputs[context]
        assert logged.dataset.name == f"demo-{context}" and tags[hash_tag].startswith(logged.dataset.digest)
        assert {tag.key: tag.value for tag in logged.tags}["textflow.sha256"] == tags[hash_tag]
        assert json.loads(logged.dataset.source) == {"uri": f"data/validated/{split}.parquet"}, "no remote: a path"
    for key in ("cpu_utilization_percentage", "system_memory_usage_megabytes", "process_memory_rss_megabytes"):
        history = client.get_metric_history(run_id, f"system/{key}")
        assert len(history) >= 2 and all(point.value >= 0 for point in history), key
        assert [point.step for point in history] == list(range(len(history))), "one step per sample, in order"
    assert history[-1].value > 50, "the training process holds at least torch and pandas (> 50 MB resident)"
    assert not [key for key in metrics if key.startswith("system/gpu")], "no GPU, no GPU metrics"
    model_id = run_data.data.tags["textflow.model_uri"].removeprefix("models:/")
    linked = {(metric.key, metric.dataset_name) for metric in client.get_logged_model(model_id).metrics}
    assert {("test_accuracy", "demo-test"), ("validation_macro_f1", "demo-validation")} <= linked


def test_a_registered_version_carries_its_model_card(tracked_project, client, mlflow_server, tmp_path):
    """Read as a user would: the version's description in the registry and the run's ``model_card.md`` hold
    the same card, whose numbers are the project's own (model size, rows, per-class scores, the model's md5
    in dvc.lock), and the MLflow UI's version page shows it with its confusion matrix."""
    import yaml

    from pipelines.models.saved import load_model

    project, _, _, better = tracked_project
    register = json.loads((project / "reports/register.json").read_text())
    assert register["alias"] == "champion" and register["version"] == 2, better
    version = client.get_model_version(MODEL, "2")
    card = version.description
    assert Path(client.download_artifacts(version.run_id, "model_card.md", str(tmp_path))).read_text() == card
    assert card.startswith(f"# {MODEL} v2\n")
    model, _ = load_model(project / "models/model.pt")
    assert f"| parameters | {sum(p.numel() for p in model.parameters()):,} |" in card
    statistics = json.loads((project / "reports/validation.json").read_text())["statistics"]
    for split in ("train", "valid", "test"):
        assert f"| {split} | {statistics[split]['rows']} |" in card
    assert "Validation (Great Expectations): passed" in card
    for label, scores in json.loads((project / "reports/metrics.json").read_text())["test"]["per_class"].items():
        assert f"| {label} | {scores['precision']:.4f} | {scores['recall']:.4f} | {scores['f1']:.4f} |" in card
    assert "| train.epochs | 4 | 15 |" in card, "a changed param is listed with its default"
    model_out = yaml.safe_load((project / "dvc.lock").read_text())["stages"]["train"]["outs"]
    assert (
        f"| `models/model.pt` md5 (dvc.lock) | {next(o['md5'] for o in model_out if o['path'] == 'models/model.pt')} |"
        in card
    )
    assert "At the last registration of this run: **champion**" in card and "beats champion v1" in card

    assert "run artifact `data_docs/index.html`" in card
    site = Path(client.download_artifacts(version.run_id, "data_docs", str(tmp_path)))
    assert (site / "index.html").is_file() and (site / "static/styles/data_docs_default_styles.css").is_file()
    checks = json.loads((project / "reports/validation.json").read_text())["checks"]
    for split in ("train", "valid", "test"):
        (page,) = (site / "validations" / f"textflow_{split}").rglob("*.html")
        text = visible_text(page.read_text())
        expected = [
            c for c in checks if c["split"] == split and c["expectation"] != "expect_each_class_to_have_min_rows"
        ]
        assert "Status:\nSucceeded\n" in text and f"Evaluated Expectations\n{len(expected)}\n" in text, (split, text)

    page = f"{mlflow_server}/#/models/{MODEL}/versions/2"
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it): the UI half is not checked")
    dom = chromium("--dump-dom", page, profile=tmp_path / "card").stdout
    assert "Champion decision" in visible_text(dom) and "Per class (test)" in visible_text(dom)
    image = re.search(r'<img[^>]+src="([^"]*get-artifact[^"]*)"', dom)
    assert image, "the card's confusion matrix is an image on the page"
    with urllib.request.urlopen(
        urllib.parse.urljoin(f"{mlflow_server}/", html.unescape(image.group(1))), timeout=30
    ) as response:
        assert response.read(8) == b"\x89PNG\r\n\x1a\n"
    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "mlflow-model-card.png"
    chromium("--window-size=1400,2200", f"--screenshot={shot}", page, profile=tmp_path / "card")
    assert_shows_content(shot)


def test_gate_gives_champion_only_to_the_better_model(tracked_project, client):
    project, env, first, better = tracked_project
    assert "v1 -> champion: no champion yet" in first
    assert "v2 -> champion" in better and "beats champion v1" in better
    worse = run(["dvc", "exp", "run", "-S", "train.epochs=1", "-S", "train.seed=43"], project, env=env)
    output = worse.stdout + worse.stderr
    assert "-> challenger" in output and "does not beat champion v2" in output
    assert client.get_model_version_by_alias(MODEL, "champion").version == "2"
    # The first run's params again: DVC restores that training from its run-cache instead of training anew,
    # and the register stage finds its model already registered.
    repeated = run(["dvc", "exp", "run", "-S", "train.epochs=1", "-S", "train.seed=42"], project, env=env)
    output = repeated.stdout + repeated.stderr
    assert "Stage 'train' is cached" in output and "Created version" not in output
    again = run(
        [
            "python",
            "-m",
            "pipelines.stages.register",
            "--run",
            "reports/mlflow_run.json",
            "--model",
            "models/model.pt",
            "--out",
            "reports/register-again.json",
        ],
        project,
        env=env,
    )
    assert "Created version" not in again.stdout + again.stderr
    assert len(client.search_model_versions(f"name='{MODEL}'")) == 3


def _texts(project: Path) -> list[str]:
    return pd.read_parquet(project / "data/validated/test.parquet")["text"].head(100).tolist()


def test_registry_model_in_a_fresh_process_predicts_like_the_in_process_model(tracked_project, client, tmp_path):
    project, env, _, _ = tracked_project
    import mlflow

    texts = _texts(project)
    uri = f"models:/{MODEL}@champion"
    in_process = mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"text": texts}))
    script = (
        "import sys, json, mlflow, pandas as pd\n"
        "texts = json.load(open(sys.argv[1]))\n"
        f"out = mlflow.pyfunc.load_model({uri!r}).predict(pd.DataFrame({{'text': texts}}))\n"
        "out.to_json(sys.argv[2], orient='split')\n"
    )
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    run([sys.executable, "-c", script, str(tmp_path / "texts.json"), str(tmp_path / "out.json")], tmp_path, env=env)
    fresh = pd.read_json(tmp_path / "out.json", orient="split")
    assert fresh["label"].tolist() == in_process["label"].tolist()
    assert np.allclose(fresh.drop(columns="label").to_numpy(), in_process.drop(columns="label").to_numpy(), atol=1e-6)
    assert set(in_process["label"]) <= {"finance", "health", "sports", "technology"}
    probabilities = in_process.drop(columns="label").to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_predict_command_and_models_serve_answer_like_the_registry_model(tracked_project, client):
    project, env, _, _ = tracked_project
    import mlflow

    texts = _texts(project)[:20]
    expected = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion").predict(pd.DataFrame({"text": texts}))
    cli = run([sys.executable, "-m", "pipelines.serving.predict", *texts[:3]], project, env=env)
    assert [line.split("\t")[0] for line in cli.stdout.splitlines()] == expected["label"][:3].tolist()

    port = free_port()
    process = subprocess.Popen(
        [
            "mlflow",
            "models",
            "serve",
            "-m",
            f"models:/{MODEL}@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/ping", process, 120)
        body = json.dumps({"dataframe_split": {"columns": ["text"], "data": [[text] for text in texts]}}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            served = pd.DataFrame(json.loads(response.read())["predictions"])
    finally:
        stop(process)
    assert served["label"].tolist() == expected["label"].tolist()
    assert np.allclose(served[expected.columns[1:]].to_numpy(), expected.drop(columns="label").to_numpy(), atol=1e-6)


def test_unreachable_server_is_one_clear_error(tracked_project, tmp_path):
    project, _, _, _ = tracked_project
    env = tool_env({"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"})
    result = run(
        [
            sys.executable,
            "-m",
            "pipelines.stages.register",
            "--run",
            "reports/mlflow_run.json",
            "--model",
            "models/model.pt",
            "--out",
            str(tmp_path / "r.json"),
        ],
        project,
        check=False,
        env=env,
    )
    assert result.returncode == 1
    assert "is not reachable" in result.stderr and "Traceback" not in result.stderr


SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def visible_text(dom: str) -> str:
    """The text a person sees in a dumped DOM: text nodes outside script, style and template elements."""
    from html.parser import HTMLParser

    class Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.hidden, self.parts = 0, []

        def handle_starttag(self, tag, attrs):
            self.hidden += tag in ("script", "style", "template", "noscript")

        def handle_endtag(self, tag):
            self.hidden -= tag in ("script", "style", "template", "noscript") and self.hidden > 0

        def handle_data(self, data):
            if not self.hidden and data.strip():
                self.parts.append(data.strip())

    parser = Text()
    parser.feed(dom)
    return "\n".join(parser.parts)


def rendered_text(url: str, profile: Path, expected: list[str], tries: int = 3) -> str:
    """The page's visible text once it shows everything ``expected``, loading it at most ``tries`` times: a busy
    machine may not render a page of charts within one load's virtual-time budget."""
    for _ in range(tries):
        text = visible_text(chromium("--dump-dom", url, profile=profile).stdout)
        if all(item in text for item in expected):
            break
    return text


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_mlflow_ui_shows_the_runs_and_their_comparison(tracked_project, client, mlflow_server, tmp_path):
    experiment = client.get_experiment_by_name("textflow")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])[:2]
    names = [run.info.run_name for run in runs]
    assert len(set(names)) == 2, f"two runs of one config must be told apart in the UI: {names}"
    assert all("#" + run.info.run_id[:6] in run.info.run_name for run in runs)
    ids = json.dumps([run.info.run_id for run in runs], separators=(",", ":"))
    pages = {
        "mlflow-runs": f"{mlflow_server}/#/experiments/{experiment.experiment_id}/runs?viewStateShareKey={SCORES_VIEW}",
        "mlflow-compare": f"{mlflow_server}/#/compare-runs?runs={urllib.parse.quote(ids)}"
        f"&experiments={urllib.parse.quote(json.dumps([experiment.experiment_id]))}",
        "mlflow-system-metrics": f"{mlflow_server}/#/experiments/{experiment.experiment_id}/runs/"
        f"{runs[0].info.run_id}/system-metrics",
    }
    SCREENSHOTS.mkdir(exist_ok=True)
    expected = {
        "mlflow-runs": names,
        "mlflow-compare": names,
        "mlflow-system-metrics": [names[0], "cpu_utilization_percentage"],
    }
    for name, url in pages.items():
        text = rendered_text(url, tmp_path / name, expected[name])
        assert all(item in text for item in expected[name]), f"{name}: {expected[name]} not all shown in {text[:2000]}"
        if name == "mlflow-runs":
            assert "test_accuracy" in text and "test_macro_f1" in text, "the scores view shows no score columns"
        shot = SCREENSHOTS / f"{name}.png"
        chromium("--window-size=1400,900", f"--screenshot={shot}", url, profile=tmp_path / name)
        assert_shows_content(shot)
    compared = visible_text(chromium("--dump-dom", pages["mlflow-compare"], profile=tmp_path / "c").stdout)
    assert "Comparing 2 Runs" in chromium("--dump-dom", pages["mlflow-compare"], profile=tmp_path / "d").stdout
    assert all(run_name in compared for run_name in names)
