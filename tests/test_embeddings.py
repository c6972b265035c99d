import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from pipelines.config import DemoCorpus, EmbedParams
from pipelines.data.demo import generate_demo_corpus
from pipelines.data.extra_text import extra_text_file
from pipelines.embeddings.word_vectors import aligned_matrix, evaluate_embeddings, train_embeddings
from pipelines.stages.embed import embed
from pipelines.text.clean import CleanSettings, TextCleaner
from pipelines.text.vocab import PAD_ID, Vocabulary


def _sentences():
    texts = generate_demo_corpus(DemoCorpus(train_size=600, test_size=20), seed=5)["train"].text
    return TextCleaner(CleanSettings()).clean_many(texts)


def test_word2vec_is_deterministic_and_aligned_to_the_vocabulary():
    sentences = _sentences()
    vocabulary = Vocabulary.build(sentences)
    params = EmbedParams(dim=16, epochs=3)
    first, coverage = aligned_matrix(train_embeddings(sentences, params, 1), vocabulary, 16, 1, subword=False)
    second, _ = aligned_matrix(train_embeddings(sentences, params, 1), vocabulary, 16, 1, subword=False)
    assert first.shape == (len(vocabulary), 16) and np.array_equal(first, second)
    assert coverage == 1.0 and not first[PAD_ID].any()


def test_fasttext_covers_words_it_never_saw_through_subwords():
    sentences = _sentences()
    vocabulary = Vocabulary.build([*sentences, ["teamwork", "marketplace"]])
    vectors = train_embeddings(sentences, EmbedParams(method="fasttext", dim=16, epochs=2), 1)
    matrix, coverage = aligned_matrix(vectors, vocabulary, 16, 1, subword=True)
    assert coverage == 1.0
    assert np.allclose(matrix[vocabulary.index["teamwork"]], vectors["teamwork"])


def _embed_args(tmp_path, **overrides):
    paths = {name: tmp_path / name for name in ("clean", "tokens", "extra_text", "stopwords", "out", "report")}
    return SimpleNamespace(params=str(tmp_path / "params.yaml"), **paths | overrides)


def _write_clean_splits(tmp_path, texts):
    (tmp_path / "clean").mkdir()
    for split, rows in texts.items():
        pd.DataFrame({"text": rows, "label": ["a"] * len(rows)}).to_parquet(tmp_path / "clean" / f"{split}.parquet")
    Vocabulary.build([text.split() for text in texts["train"]]).save(tmp_path / "tokens" / "vocab.json")


def test_embed_none_writes_an_empty_matrix_and_trains_nothing(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"embed": {"method": "none", "dim": 8}}))
    args = _embed_args(tmp_path)
    embed(args)
    assert np.load(args.out).shape == (0, 0)
    assert json.loads(args.report.read_text())["method"] == "none"


def test_a_model_that_reads_no_vectors_gets_no_embeddings_whatever_the_embed_params(tmp_path):
    """model.embedding_init: rand reads no vectors, so embed trains nothing and its outputs are the same
    bytes for any embed param: changing one cannot make DVC retrain such a model."""
    outputs = []
    for dim in (8, 300):
        directory = tmp_path / str(dim)
        directory.mkdir()
        (directory / "params.yaml").write_text(
            yaml.safe_dump({"embed": {"dim": dim}, "model": {"embedding_init": "rand"}})
        )
        args = _embed_args(directory)
        embed(args)
        outputs.append((args.out.read_bytes(), args.report.read_bytes()))
        assert "embedding_init is rand" in json.loads(args.report.read_text())["skipped"]
    assert outputs[0] == outputs[1]


def test_embed_trains_on_extra_text_cleaned_like_the_data_but_never_on_held_out_texts(tmp_path):
    params = {
        "embed": {"dim": 8, "epochs": 1, "extra_text": "demo"},
        "model": {"embedding_init": "static", "embedding_dim": 8},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    _write_clean_splits(
        tmp_path, {"train": ["good film", "bad film"], "valid": ["a fine movie !"], "test": ["dull plot"]}
    )
    (tmp_path / "stopwords.txt").write_text("# stopwords: none (0 words)\n")
    (tmp_path / "extra_text").write_text(
        extra_text_file("demo", ["A <b>Fine</b> movie!", "The SCORE soars", "Dull plot"]), encoding="utf-8"
    )
    args = _embed_args(tmp_path, stopwords=tmp_path / "stopwords.txt")
    embed(args)
    report = json.loads(args.report.read_text())
    assert report["extra_sentences"] == 1 and report["extra_dropped_as_held_out"] == 2
    assert report["corpus_sentences"] == 3 and report["corpus_tokens"] == 2 + 2 + 3
    assert {"wordsim353_spearman", "simlex999_coverage", "analogy_accuracy"} <= set(report)
    assert np.load(args.out).shape == (len(Vocabulary.load(tmp_path / "tokens" / "vocab.json")), 8)


def test_similarity_scores_rank_word_pairs_like_people_do():
    """Vectors built so that the cosine of each covered WordSim353 pair follows the human score exactly."""
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    lines = Path(datapath("wordsim353.tsv")).read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if not line.startswith("#")]
    pairs = [(first.lower(), second.lower(), float(score)) for first, second, score in rows]
    chosen, words = [], set()
    for first, second, score in pairs:
        candidate = words | {first, second}
        covered = {pair[:2] for pair in pairs if pair[0] in candidate and pair[1] in candidate}
        if first not in words and second not in words and covered == {*(pair[:2] for pair in chosen), (first, second)}:
            chosen.append((first, second, score))
            words = candidate
        if len(chosen) == 20:
            break
    vectors = KeyedVectors(2 * len(chosen))
    for index, (first, second, score) in enumerate(chosen):
        angle = (1.0 - score / 10.0) * np.pi / 2
        one, other = np.zeros(2 * len(chosen)), np.zeros(2 * len(chosen))
        one[2 * index] = 1.0
        other[2 * index], other[2 * index + 1] = np.cos(angle), np.sin(angle)
        vectors.add_vectors([first, second], [one, other])
    scores = evaluate_embeddings(vectors)
    assert scores["wordsim353_spearman"] > 0.99
    covered_rows = sum(first in words and second in words for first, second, _ in pairs)  # a few pairs repeat
    assert scores["wordsim353_coverage"] == pytest.approx(covered_rows / len(pairs), abs=1e-3)


def test_sst2_test_sentences_never_reach_the_embedding_corpus_through_mr(mirror, tmp_path):
    """MR holds most SST-2 test sentences under another tokenisation (-lrb-, split n't, accents)."""
    from pipelines.config import load_params
    from pipelines.data.sources import read_raw_splits, unlabelled_sentences, write_raw_files
    from pipelines.embeddings.word_vectors import embedding_corpus, normalised_key
    from pipelines.text.clean import clean_texts
    from pipelines.text.tokenizers import word_tokens
    from tests.conftest import ROOT

    params = load_params(ROOT / "params.yaml", {"dataset.name": "sst2"})
    (tmp_path / "sst2").mkdir()
    write_raw_files(params, tmp_path / "sst2")
    _, splits = read_raw_splits(tmp_path / "sst2")
    settings = CleanSettings()
    held_out = clean_texts([*splits["valid"]["text"], *splits["test"]["text"]], settings)
    mr = clean_texts(unlabelled_sentences("mr", params, tmp_path / "mr"), settings)
    sentences, dropped = embedding_corpus([], mr, held_out, word_tokens)
    test_keys = {normalised_key(text) for text in clean_texts(list(splits["test"]["text"]), settings)}
    assert not [tokens for tokens in sentences if normalised_key(" ".join(tokens)) in test_keys]
    assert dropped >= 1496, "at least every SST-2 test sentence MR holds under its normalised key"
    assert len(sentences) == len(mr) - dropped
