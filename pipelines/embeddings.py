"""gensim Word2Vec / FastText trained on the training split, exported as a matrix aligned to the vocabulary.

Row ``i`` of the matrix is the vector of vocabulary id ``i``, so a model can copy it straight into its
embedding layer. Words gensim never saw (below its ``min_count``) get small random vectors, except
``<pad>`` which stays zero; FastText builds vectors for unseen words from their character n-grams, so its
coverage is complete for any word with n-grams.

Reproducibility: gensim seeds each word's initial vector with ``hashfxn(word)``, which defaults to Python's
salted ``hash``; a stable CRC32 and a single worker make training deterministic for a seed.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from pipelines.config import EmbedParams
from pipelines.text.vocab import PAD_ID, SPECIALS, Vocabulary

PROBE_WORDS = 8
NEIGHBOURS = 5


def stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def train_embeddings(sentences: Sequence[Sequence[str]], params: EmbedParams, seed: int) -> Any:
    """Train and return the gensim model (``.wv`` holds the vectors)."""
    from gensim.models import FastText, Word2Vec

    options = dict(
        sentences=[list(sentence) for sentence in sentences],
        vector_size=params.dim,
        window=params.window,
        min_count=params.min_count,
        sg=1 if params.algorithm == "skipgram" else 0,
        hs=1 if params.loss == "hierarchical_softmax" else 0,
        negative=params.negative if params.loss == "negative" else 0,
        epochs=params.epochs,
        seed=seed,
        workers=1,
        hashfxn=stable_hash,
    )
    if params.method == "word2vec":
        return Word2Vec(**options)
    if params.method == "fasttext":
        return FastText(**options, min_n=params.min_n, max_n=params.max_n)
    raise ValueError(f"embed.method {params.method!r} trains nothing")


def aligned_matrix(
    keyed_vectors: Any, vocabulary: Vocabulary, dim: int, seed: int, subword: bool
) -> tuple[np.ndarray, float]:
    """(matrix [len(vocabulary), dim] float32, coverage): the share of non-special vocabulary rows that
    came from the embedding model rather than random initialisation."""
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-0.25, 0.25, size=(len(vocabulary), dim)).astype(np.float32)
    matrix[PAD_ID] = 0.0
    found = 0
    for index, token in enumerate(vocabulary.tokens):
        if index < len(SPECIALS):
            continue
        if token in keyed_vectors.key_to_index or (subword and _has_ngrams(keyed_vectors, token)):
            matrix[index] = keyed_vectors[token]
            found += 1
    words = len(vocabulary) - len(SPECIALS)
    return matrix, (found / words if words else 0.0)


def _has_ngrams(keyed_vectors: Any, token: str) -> bool:
    return bool(getattr(keyed_vectors, "bucket", 0)) and len(token) + 2 >= keyed_vectors.min_n


def nearest_neighbours(keyed_vectors: Any, vocabulary: Vocabulary) -> dict[str, list[list[Any]]]:
    """Neighbours of the most frequent non-special words: a quick human check that the space makes sense."""
    probes = [token for token in vocabulary.tokens[len(SPECIALS) :] if token in keyed_vectors.key_to_index]
    probes = [token for token in probes if any(character.isalpha() for character in token)][:PROBE_WORDS]
    return {
        token: [[word, round(float(score), 4)] for word, score in keyed_vectors.most_similar(token, topn=NEIGHBOURS)]
        for token in probes
    }
