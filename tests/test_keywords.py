"""Keyword extraction on documents built so the right answer is known, and the stage's report and figure."""

import json

import pytest

from pipelines.config import ConfigError
from pipelines.text.keywords import (
    InverseDocumentFrequency,
    candidates,
    class_keywords,
    precision_at_k,
    textrank_keywords,
    tfidf_keywords,
)
from pipelines.text.stopwords import stopword_list
from pipelines.text.tokenizers import jieba_tokens


def test_tfidf_ranks_a_term_frequent_in_one_class_and_rare_elsewhere_first():
    """'said' is the most frequent term of every class, so it must not win; 'goal' is frequent in sports only."""
    sports = [["said", "said", "goal", "team"], ["said", "goal", "goal", "match"], ["said", "said", "goal", "cup"]]
    finance = [["said", "said", "bank", "rate"], ["said", "stock", "rate", "goal"], ["said", "said", "bank", "fund"]]
    documents = sports + finance
    labels = ["sports"] * 3 + ["finance"] * 3
    keywords = class_keywords(documents, labels, "tfidf", top_k=3)
    assert keywords["sports"][0][0] == "goal"
    assert keywords["finance"][0][0] in ("bank", "rate")
    assert all(term != "said" for terms in keywords.values() for term, _ in terms[:2])
    idf = InverseDocumentFrequency.fit(documents)
    assert idf["said"] == 0 < idf["goal"] < idf["fund"] < idf["never seen"]
    assert tfidf_keywords(["said", "fund", "said"], idf, 1) == [("fund", pytest.approx(idf["fund"] / 3, abs=1e-6))]


def test_textrank_ranks_the_hub_of_the_cooccurrence_graph_first():
    """'engine' sits next to every other word once; every other word occurs as often as it does."""
    tokens = []
    for word in ["rocket", "fuel", "orbit", "launch", "crew", "module"]:
        tokens += [word, "engine", word]
    keywords = textrank_keywords([tokens], top_k=3, window=2)
    assert keywords[0][0] == "engine"
    assert keywords[0][1] > 2 * keywords[1][1]


def test_textrank_that_cannot_converge_names_the_params_to_change():
    tokens = "a b c d e a c e b d".split()
    with pytest.raises(ConfigError, match="keywords.max_iterations or keywords.tolerance"):
        textrank_keywords([tokens], top_k=3, max_iterations=1, tolerance=1e-12)


def test_candidates_drop_stopwords_numbers_punctuation_and_contraction_pieces():
    tokens = ["the", "film", "'s", "n't", "2002", ",", "sequel", "b52"]
    assert candidates([tokens], frozenset({"the"})) == [["film", "sequel", "b52"]]


def test_precision_at_k_counts_misses_of_a_short_list():
    assert precision_at_k([("goal", 1.0), ("said", 0.5)], {"goal", "team"}, 10) == 0.1


def test_chinese_keywords_use_jieba_words_and_the_chinese_stopword_list(mirror):
    """Lyrics-like lines: 的/我/你 are frequent everywhere and are stopwords; 雨 and 咖啡 mark their class."""
    stopwords = frozenset(stopword_list("nltk", "chinese"))
    assert {"的", "我", "你"} <= stopwords
    rain = ["窗外的雨下着", "又是一场雨", "雨和我的思念"]
    cafe = ["你的咖啡冷了", "我喝了一杯咖啡", "咖啡的温度"]
    documents = candidates((jieba_tokens(text) for text in rain + cafe), stopwords)
    assert not any(token in stopwords for tokens in documents for token in tokens)
    keywords = class_keywords(documents, ["rain"] * 3 + ["cafe"] * 3, "tfidf", top_k=2)
    assert keywords["rain"][0][0] == "雨"
    assert keywords["cafe"][0][0] == "咖啡"


def test_keywords_report_from_the_pipeline_recovers_the_demo_topic_words(reproduced_project):
    report = json.loads((reproduced_project / "reports" / "keywords.json").read_text(encoding="utf-8"))
    assert report["method"] == "tfidf" and set(report["classes"]) == {"finance", "health", "sports", "technology"}
    assert all(len(terms) == 10 for terms in report["classes"].values())
    assert report["topic_precision_at_10"]["mean"] >= 0.8, report["topic_precision_at_10"]
    assert len(report["documents"]) == 20 and all(document["keywords"] for document in report["documents"])
    assert (reproduced_project / "reports" / "keywords.png").stat().st_size > 10_000
