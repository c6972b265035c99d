"""The fast cleaner must give exactly the naive reference's tokens, on generated and real text."""

import itertools
import re

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


def _kims_clean_str(string, TREC=False):  # noqa: N803 - Kim's process_data.py, as he wrote it
    string = re.sub(r"[^A-Za-z0-9(),!?\'\`]", " ", string)
    string = re.sub(r"\'s", " 's", string)
    string = re.sub(r"\'ve", " 've", string)
    string = re.sub(r"n\'t", " n't", string)
    string = re.sub(r"\'re", " 're", string)
    string = re.sub(r"\'d", " 'd", string)
    string = re.sub(r"\'ll", " 'll", string)
    string = re.sub(r",", " , ", string)
    string = re.sub(r"!", " ! ", string)
    string = re.sub(r"\(", " \( ", string)  # noqa: W605
    string = re.sub(r"\)", " \) ", string)  # noqa: W605
    string = re.sub(r"\?", " \? ", string)  # noqa: W605
    string = re.sub(r"\s{2,}", " ", string)
    return string.strip() if TREC else string.strip().lower()


def _kims_clean_str_sst(string):  # Kim's process_data_sst.py
    string = re.sub(r"[^A-Za-z0-9(),!?\'\`]", " ", string)
    string = re.sub(r"\s{2,}", " ", string)
    return string.strip().lower()


KIM_SAMPLES = [
    "What's the capital of Mozambique ?",
    "How did serfdom develop in and then leave Russia ?",
    "it 's a charming and often affecting journey . (yes!) -- ``whoa'' , they're ; we'd ; I'll , can't",
    "Ces chiens-là n'ont pas d'ami ; naïve café $ 5.00 & <b>bold</b>",
]


@pytest.mark.parametrize("lowercase", [True, False])
def test_kim_style_is_kims_clean_str_and_keeps_case_only_when_asked(lowercase):
    cleaner = TextCleaner(CleanSettings(lowercase=lowercase, stem=False, style="kim"))
    for text in KIM_SAMPLES:
        assert cleaner.tokens(text) == _kims_clean_str(text, TREC=not lowercase).split()


def test_kim_sst_style_is_kims_clean_str_sst():
    cleaner = TextCleaner(CleanSettings(stem=False, style="kim_sst"))
    for text in KIM_SAMPLES:
        assert cleaner.tokens(text) == _kims_clean_str_sst(text).split()
