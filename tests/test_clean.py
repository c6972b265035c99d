"""The fast cleaner must give exactly the naive reference's tokens, on generated and real text."""

import itertools

import pytest

from benchmarks.naive_clean import naive_clean
from pipelines.config import DemoCorpus
from pipelines.data.demo import generate_demo_corpus
from pipelines.data.download import materialize
from pipelines.data.formats import read_label_text
from pipelines.data.registry import get_dataset
from pipelines.text import clean as clean_module
from pipelines.text.clean import CleanSettings, TextCleaner, clean_texts
from pipelines.text.stopwords import stopword_list

TRICKY = [
    "Don't panic: it's <b>FINE</b> &amp; we'll see https://example.org/x?y=1 soon!!",
    "The runners were running; runs ran.",
    "wo n't sit still , however entertainingly presented ... 1990s ' real names '",
    "Ünïcödé naïve café — 北京欢迎你 2024",
    "",
]


def _texts():
    demo = generate_demo_corpus(DemoCorpus(train_size=400, test_size=20), seed=3)["train"].text.tolist()
    return TRICKY + demo


@pytest.mark.parametrize(
    "lowercase,punctuation,stem,stopwords",
    itertools.product([True, False], [True, False], [True, False], ["gensim", "none"]),
)
def test_fast_cleaner_equals_naive_reference(lowercase, punctuation, stem, stopwords):
    words = stopword_list(stopwords)
    texts = _texts()
    expected = naive_clean(texts, lowercase, punctuation, words, stem)
    settings = CleanSettings(lowercase, punctuation, frozenset(words), stem)
    assert TextCleaner(settings).clean_many(texts) == expected


def test_equality_on_real_sentences_with_nltk_stopwords(mirror, tmp_path):
    local = tmp_path / "train.txt"
    materialize(get_dataset("sst2").splits["train"], local)
    texts = read_label_text(local).text.tolist()[:1500]
    words = stopword_list("nltk")
    expected = naive_clean(texts, True, True, words, True)
    assert TextCleaner(CleanSettings(True, True, frozenset(words), True)).clean_many(texts) == expected


def test_parallel_cleaning_preserves_order_and_output(monkeypatch):
    texts = _texts() * 3
    settings = CleanSettings(stopwords=frozenset(stopword_list("gensim")))
    serial = clean_texts(texts, settings, workers=1)
    assert serial == [" ".join(tokens) for tokens in TextCleaner(settings).clean_many(texts)]
    monkeypatch.setattr(clean_module, "PARALLEL_THRESHOLD", 10)
    monkeypatch.setattr(clean_module, "CHUNK_SIZE", 97)
    assert clean_texts(texts, settings, workers=2) == serial


def test_contractions_and_markup():
    tokens = TextCleaner(CleanSettings(stem=False)).tokens("I don't like <i>it's</i> http://x.y/z")
    assert tokens == ["i", "do", "n't", "like", "it", "'s"]
