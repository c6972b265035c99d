"""Smoke runs of benchmarks/quality.py on the offline demo corpus (the full benchmark is not part of CI)."""

import json

import yaml

from benchmarks.quality import main as quality
from pipelines.config import DemoCorpus
from pipelines.data.demo import generate_demo_corpus
from pipelines.data.formats import write_label_text
from tests.conftest import ROOT


def _small_params(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["dataset"]["demo"] |= {"train_size": 600, "test_size": 200}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_demo_benchmark_puts_our_models_beside_the_peers(tmp_path):
    records, out = tmp_path / "quality.json", tmp_path / "RESULTS.md"
    common = ["--params", str(_small_params(tmp_path)), "--records", str(records), "--out", str(out), "--seeds", "1"]
    quality(
        [
            "--datasets",
            "demo",
            "--models",
            "fasttext",
            "textcnn-rand",
            "tfidf-logreg",
            "fasttext-binary-bigram",
            "--epochs",
            "3",
            *common,
        ]
    )
    rows = json.loads(records.read_text())
    assert {row["model"] for row in rows} == {"fasttext", "textcnn-rand", "tfidf-logreg", "fasttext-binary-bigram"}
    assert all(row["accuracy"] > 0.5 for row in rows), rows  # 4 balanced classes: chance is 0.25
    table = out.read_text()
    assert "| textcnn-rand | " in table and "| fasttext-binary-bigram | " in table and "(n=1)" in table
    assert "## Time to accuracy" in table

    quality(["--datasets", "demo", "--models", "tfidf-logreg", *common])  # a re-run replaces, never duplicates
    assert len(json.loads(records.read_text())) == len(rows)


def test_a_local_file_without_test_split_is_cross_validated(tmp_path):
    frame = generate_demo_corpus(DemoCorpus(train_size=300, test_size=20), seed=3)["train"]
    write_label_text(frame, tmp_path / "mine.txt")
    records, out = tmp_path / "quality.json", tmp_path / "RESULTS.md"
    quality(
        [
            "--dataset",
            "local",
            "--train",
            str(tmp_path / "mine.txt"),
            "--folds",
            "3",
            "--seeds",
            "1",
            "--models",
            "tfidf-logreg",
            "--records",
            str(records),
            "--out",
            str(out),
        ]
    )
    rows = json.loads(records.read_text())
    assert sorted(row["fold"] for row in rows) == [0, 1, 2] and all(row["folds"] == 3 for row in rows)
    assert "## local (3-fold cross-validation)" in out.read_text()
