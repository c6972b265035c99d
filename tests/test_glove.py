"""GloVe: the co-occurrence counts on sentences small enough to count by hand, and vectors that learn topics."""

import numpy as np
import pytest

from pipelines.config import DemoCorpus, EmbedParams
from pipelines.data.demo import TOPICS, generate_demo_corpus
from pipelines.embeddings.glove import count_cooccurrences
from pipelines.embeddings.word_vectors import aligned_matrix, evaluate_embeddings, train_embeddings
from pipelines.text.clean import CleanSettings, TextCleaner
from pipelines.text.vocab import Vocabulary


def test_counts_are_symmetric_weighted_by_distance_and_stop_at_sentence_ends():
    counts = count_cooccurrences([["a", "b", "c"], ["c", "a"], ["rare"]], window=2, min_count=2)
    assert counts.words == ["a", "c"], "b and rare occur once: dropped"
    table = {
        (counts.words[row], counts.words[column]): value
        for row, column, value in zip(counts.rows, counts.columns, counts.counts, strict=True)
    }
    # b is dropped before pairing, so a and c are neighbours in sentence one; sentence two adds one more.
    assert table == {("a", "c"): pytest.approx(2.0), ("c", "a"): pytest.approx(2.0)}
    full = count_cooccurrences([["a", "b", "c"], ["c", "a"]], window=2, min_count=1)
    pairs = {
        (full.words[row], full.words[column]): value
        for row, column, value in zip(full.rows, full.columns, full.counts, strict=True)
    }
    assert pairs[("a", "b")] == pairs[("b", "a")] == 1.0
    assert pairs[("a", "c")] == pytest.approx(0.5 + 1.0), "distance 2 in sentence one, 1 in sentence two"
    assert ("b", "b") not in pairs


def _demo_sentences(size: int) -> list[list[str]]:
    texts = generate_demo_corpus(DemoCorpus(train_size=size, test_size=20), seed=3)["train"].text
    return TextCleaner(CleanSettings()).clean_many(texts)


def _mean_cosine(vectors, first: list[str], second: list[str]) -> float:
    def unit(words):
        matrix = np.stack([vectors[word] for word in words if word in vectors.key_to_index])
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    return float((unit(first) @ unit(second).T).mean())


def test_glove_vectors_put_words_of_one_topic_closer_than_words_of_two():
    sentences = _demo_sentences(2000)
    params = EmbedParams(method="glove", dim=32, window=5, epochs=25, x_max=10.0)
    vectors = train_embeddings(sentences, params, seed=1)
    sports, finance = TOPICS["sports"][:20], TOPICS["finance"][:20]
    within = (_mean_cosine(vectors, sports, sports) + _mean_cosine(vectors, finance, finance)) / 2
    across = _mean_cosine(vectors, sports, finance)
    assert within > across + 0.2, (within, across)
    again = train_embeddings(sentences, params, seed=1)
    assert np.array_equal(vectors.vectors, again.vectors), "deterministic for a seed on CPU"


def test_glove_vectors_are_aligned_and_scored_like_the_others():
    sentences = _demo_sentences(300)
    vocabulary = Vocabulary.build(sentences)
    vectors = train_embeddings(sentences, EmbedParams(method="glove", dim=8, epochs=2), seed=1)
    matrix, coverage = aligned_matrix(vectors, vocabulary, 8, 1, subword=False)
    assert matrix.shape == (len(vocabulary), 8) and coverage == 1.0
    scores = evaluate_embeddings(vectors)
    assert set(scores) >= {"wordsim353_spearman", "simlex999_coverage", "analogy_accuracy"}
