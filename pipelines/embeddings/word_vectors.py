"""gensim Word2Vec / FastText or GloVe (pipelines/embeddings/glove.py) trained on the training split (plus, optionally,
unlabelled extra text),
exported as a matrix aligned to the vocabulary, and scored on the word-similarity and analogy sets that ship
with gensim's test data.

Row ``i`` of the matrix is the vector of vocabulary id ``i``, so a model can copy it straight into its
embedding layer. Words gensim never saw (below its ``min_count``) get small random vectors, except
``<pad>`` which stays zero; FastText builds vectors for unseen words from their character n-grams, so its
coverage is complete for any word with n-grams.

Reproducibility: gensim seeds each word's initial vector with ``hashfxn(word)``, which defaults to Python's
salted ``hash``; a stable CRC32 and a single worker make training deterministic for a seed.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.common.progress import on_terminal
from pipelines.config import EmbedParams, Params
from pipelines.text.clean import CleanSettings, clean_texts
from pipelines.text.tokenizers import get_tokenizer
from pipelines.text.vocab import PAD_ID, SPECIALS, Vocabulary

log = logging.getLogger("embed")

PROBE_WORDS = 8
NEIGHBOURS = 5


def stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


PTB_BRACKETS = re.compile(r"(?<![a-z])-?[lr][rsc]b-?(?![a-z])")


def normalised_key(text: str) -> str:
    """``text`` reduced to what two tokenisations of one sentence share: lower-case letters and digits, accents
    and the Penn Treebank bracket tokens (``-lrb-``, also as ``lrb`` once punctuation is gone) removed.

    SST's sentences are MR's snippets re-tokenised (``-lrb-`` for "(", ``n't`` split off, quotes and accents
    changed), so only 811 of SST-2's 1,821 test sentences equal an MR line exactly, while 1,496 share this key."""
    text = PTB_BRACKETS.sub("", text.lower())
    text = "".join(
        character for character in unicodedata.normalize("NFKD", text) if not unicodedata.combining(character)
    )
    return "".join(character for character in text if character.isalnum())


def embedding_corpus(
    train: Sequence[str], extra: Sequence[str], held_out: Iterable[str], tokenize: Callable[[str], list[str]]
) -> tuple[list[list[str]], int]:
    """(token lists to train on, extra texts dropped): the cleaned training texts, then every cleaned extra
    text that is not also a validation or test text, compared by :func:`normalised_key`. The drop keeps a test
    sentence that happens to sit in the extra corpus (SST's sentences are MR's) from shaping the vectors the
    model is tested with."""
    held = {normalised_key(text) for text in held_out} - {""}
    kept = [text for text in extra if normalised_key(text) not in held]
    sentences = [tokens for tokens in map(tokenize, [*train, *kept]) if tokens]
    return sentences, len(extra) - len(kept)


@dataclass(frozen=True)
class BuiltVectors:
    """What :func:`build_vectors` made. ``train_seconds`` is kept out of ``report``: the report is a DVC
    output that train depends on, and a timing there would retrain on every re-run."""

    matrix: np.ndarray
    report: dict[str, Any]
    keyed: Any
    train_seconds: float


def build_vectors(
    frames: Mapping[str, pd.DataFrame],
    extra: Sequence[str],
    settings: CleanSettings,
    params: Params,
    vocabulary: Vocabulary,
) -> BuiltVectors:
    """The embed stage's job, shared with the benchmarks: clean the raw ``extra`` sentences like the data,
    train on the cleaned training split plus those of them that are no validation/test text, align to
    ``vocabulary`` and score."""
    cleaned_extra = clean_texts(list(extra), settings, params.clean.workers) if extra else []
    sentences, dropped = embedding_corpus(
        frames["train"]["text"].tolist(),
        cleaned_extra,
        [*frames["valid"]["text"], *frames["test"]["text"]],
        get_tokenizer(params.tokenize.method, max_length=params.tokenize.max_length),
    )
    options = params.embed
    began = time.perf_counter()
    vectors = train_embeddings(sentences, options, params.dataset.seed)
    train_seconds = time.perf_counter() - began
    matrix, coverage = aligned_matrix(
        vectors, vocabulary, options.dim, params.dataset.seed, options.method == "fasttext"
    )
    report = {
        "method": options.method,
        "algorithm": options.algorithm,
        "dim": options.dim,
        "corpus_sentences": len(sentences),
        "corpus_tokens": sum(len(sentence) for sentence in sentences),
        "extra_text": options.extra_text,
        "extra_sentences": len(cleaned_extra) - dropped,
        "extra_dropped_as_held_out": dropped,
        "trained_words": len(vectors.key_to_index),
        "coverage": round(coverage, 6),
        **evaluate_embeddings(vectors),
    }
    return BuiltVectors(matrix, report, vectors, train_seconds)


def train_embeddings(sentences: Sequence[Sequence[str]], params: EmbedParams, seed: int) -> Any:
    """Train and return the word vectors (gensim ``KeyedVectors``)."""
    if params.method == "glove":
        from pipelines.embeddings.glove import train_glove
        from pipelines.training.device import resolve_device

        return train_glove(
            sentences,
            dim=params.dim,
            window=params.window,
            min_count=params.min_count,
            epochs=params.epochs,
            x_max=params.x_max,
            alpha=params.alpha,
            learning_rate=params.learning_rate,
            seed=seed,
            device=resolve_device("auto"),
        )

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
    options["callbacks"] = [epoch_progress(params.epochs, params.method)]
    if params.method == "word2vec":
        return Word2Vec(**options).wv
    if params.method == "fasttext":
        return FastText(**options, min_n=params.min_n, max_n=params.max_n).wv
    raise ValueError(f"embed.method {params.method!r} trains nothing")


def epoch_progress(epochs: int, method: str) -> Any:
    """A gensim callback: an epoch bar on a terminal, one log line per epoch elsewhere."""
    from gensim.models.callbacks import CallbackAny2Vec
    from tqdm import tqdm

    class EpochProgress(CallbackAny2Vec):
        def __init__(self):
            self.epoch = 0
            self.bar = tqdm(total=epochs, desc=method, unit="epoch", leave=False, disable=not on_terminal())

        def on_epoch_end(self, model: Any) -> None:
            self.epoch += 1
            self.bar.update(1)
            if not on_terminal():
                log.info("%s epoch %d/%d", method, self.epoch, epochs)

        def on_train_end(self, model: Any) -> None:
            self.bar.close()

    return EpochProgress()


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


SIMILARITY_SETS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
ANALOGY_SET = "questions-words.txt"


def evaluate_embeddings(keyed_vectors: Any) -> dict[str, float]:
    """Spearman correlation with human similarity judgements (WordSim353, SimLex-999), accuracy on Mikolov's
    analogy questions, and the share of each set's pairs/questions the vocabulary covers.

    Case-insensitive, as the cleaned text is usually lower-cased. Pairs and questions with an unknown word are
    skipped (gensim's default; a score is 0 when nothing is covered), so read a score with its coverage. On a
    few thousand sentences half the similarity pairs are covered but the scores are noise (Spearman within
    +-0.11 of zero on TREC and SST-2); they become meaningful with a large ``extra_text``.
    """
    import warnings

    from gensim.test.utils import datapath

    scores: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gensim warns per skipped pair and on constant inputs
        for name, filename in SIMILARITY_SETS.items():
            try:
                _, spearman, oov_percent = keyed_vectors.evaluate_word_pairs(datapath(filename), case_insensitive=True)
            except ValueError:  # not one pair covered
                spearman, oov_percent = (0.0,), 100.0
            correlation = float(spearman[0])
            scores[f"{name}_spearman"] = round(correlation, 4) if np.isfinite(correlation) else 0.0
            scores[f"{name}_coverage"] = round(1.0 - float(oov_percent) / 100.0, 4)
        accuracy, sections = keyed_vectors.evaluate_word_analogies(datapath(ANALOGY_SET), case_insensitive=True)
    total = next(section for section in sections if section["section"] == "Total accuracy")
    answered = len(total["correct"]) + len(total["incorrect"])
    scores["analogy_accuracy"] = round(float(accuracy), 4)
    scores["analogy_coverage"] = round(answered / _question_count(datapath(ANALOGY_SET)), 4)
    return scores


def _question_count(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip() and not line.startswith(":"))
