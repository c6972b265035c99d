"""SST phrases from the parse trees: the parser on hand-made trees, and the real training trees in the mirror
giving the published phrase counts with every training sentence among them under its own label."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import ConfigError, load_params
from pipelines.data.download import DownloadError
from pipelines.data.sources import read_raw_splits, write_raw_files
from pipelines.data.treebank import TreebankError, tree_nodes, treebank_phrases
from tests.conftest import ROOT


def test_every_node_is_a_phrase_and_a_leaf_may_end_in_a_parenthesis():
    nodes = tree_nodes("(3 (2 (2 Fun) (3 :-))) (4 (2 The) (4 film)))")
    assert nodes == [
        (2, "Fun"),
        (3, ":-)"),
        (2, "Fun :-)"),
        (2, "The"),
        (4, "film"),
        (4, "The film"),
        (3, "Fun :-) The film"),
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [("(3 (2 a)", "never closed"), ("(3 (2 a) (2 b)", "'b\\)' should close 2"), ("word", "outside any node")],
)
def test_a_malformed_tree_names_its_line(line, problem):
    with pytest.raises(TreebankError, match=rf"tree line 2: .*{problem}"):
        treebank_phrases(["(2 (2 ok) (2 fine))", line], "fine")


def test_binary_phrases_drop_neutral_and_keep_the_first_label_of_a_text():
    lines = ["(4 (1 (1 Bad) (2 plot)) (4 great))", "(0 (0 bad) (2 actors))"]
    phrases = treebank_phrases(lines, "binary")
    assert dict(zip(phrases["text"], phrases["label"], strict=True)) == {
        "bad": "0",
        "great": "1",
        "bad plot": "0",
        "bad plot great": "1",
        "bad actors": "0",
    }


@pytest.mark.parametrize(("name", "count"), [("sst2", 76_961), ("sst1", 156_817)])
def test_phrase_training_split_from_the_mirror(mirror, tmp_path, name, count):
    """The first 8,544 trees give the published phrase counts (the file's trailing 1,101 dev trees are not
    training data); every official training sentence is one of the phrases, labelled as the sentence file
    labels it; validation and test stay the sentence files."""
    sentences_dir, phrases_dir = tmp_path / "sentences", tmp_path / "phrases"
    sentences_dir.mkdir()
    phrases_dir.mkdir()
    params = load_params(ROOT / "params.yaml", {"dataset.name": name})
    write_raw_files(params, sentences_dir)
    write_raw_files(
        load_params(ROOT / "params.yaml", {"dataset.name": name, "dataset.train_on": "phrases"}), phrases_dir
    )
    _, sentences = read_raw_splits(sentences_dir)
    manifest, phrases = read_raw_splits(phrases_dir)

    assert len(phrases["train"]) == count
    assert phrases["train"]["text"].is_unique
    labels = dict(zip(phrases["train"]["text"], phrases["train"]["label"], strict=True))
    for text, label in zip(sentences["train"]["text"], sentences["train"]["label"], strict=True):
        assert labels.get(text) == label, text
    for split in ("valid", "test"):
        assert phrases[split].equals(sentences[split])
    assert "first 8544 trees" in manifest["files"]["train"]["source"]


def test_phrases_for_a_dataset_without_trees_is_a_config_error():
    with pytest.raises(ConfigError, match="'dataset.train_on' is phrases but dataset 'trec' has no parse trees"):
        load_params(ROOT / "params.yaml", {"dataset.name": "trec", "dataset.train_on": "phrases"})


def test_a_truncated_trees_file_fails_its_checksum_and_leaves_nothing(mirror, tmp_path, monkeypatch):
    trees = Path(mirror, "raw.githubusercontent.com/munikarmanish/RNTN/master/trees/train.txt")
    short = tmp_path / "short-mirror/raw.githubusercontent.com/munikarmanish/RNTN/master/trees/train.txt"
    short.parent.mkdir(parents=True)
    short.write_text("".join(trees.read_text(encoding="utf-8").splitlines(keepends=True)[:100]), encoding="utf-8")
    monkeypatch.setenv("TEXTFLOW_MIRROR", str(tmp_path / "short-mirror"))
    params = load_params(ROOT / "params.yaml", {"dataset.name": "sst2", "dataset.train_on": "phrases"})
    (tmp_path / "raw").mkdir()
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        write_raw_files(params, tmp_path / "raw")
    assert not (tmp_path / "raw" / "train.txt").exists()
