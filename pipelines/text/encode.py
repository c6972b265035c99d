"""Cleaned text -> token ids: tokenize every split, build the vocabulary on ``train`` only, encode labels
by their sorted names. The tokenize stage and the benchmarks share this, so both see the same ids.

Texts are tokenized in chunks, each into ids of its own first-sight vocabulary with counts (in worker
processes for a large corpus); the corpus vocabulary comes from the training chunks' counts, and a chunk's ids
are mapped to it with one numpy gather. Against tokenizing into lists and encoding list by list, this is ~1.7x
faster in one process and never holds a Python list per text.
"""

from __future__ import annotations

import logging
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.common.allocation import cycle_collection_paused
from pipelines.common.parallel import chunked, map_chunks, process_count
from pipelines.config import TokenizeParams
from pipelines.text.sequences import EncodedSplit
from pipelines.text.tokenizers import get_tokenizer, tokens_or_empty, unsegmented_warning
from pipelines.text.vocab import BOS, EOS, UNK_ID, Vocabulary

log = logging.getLogger(__name__)


@dataclass
class EncodedCorpus:
    vocabulary: Vocabulary
    class_names: list[str]
    splits: dict[str, EncodedSplit]

    def split_metrics(self) -> dict[str, dict[str, float]]:
        """Rows, tokens, mean length and OOV rate (``<bos>``/``<eos>`` not counted) of every split."""
        markers = (self.vocabulary.index[BOS], self.vocabulary.index[EOS])
        metrics = {}
        for name, split in self.splits.items():
            real = (split.ids != markers[0]) & (split.ids != markers[1])
            metrics[name] = {
                "rows": len(split),
                "tokens": int(len(split.ids)),
                "mean_length": round(float(split.lengths.mean()), 2) if len(split) else 0.0,
                "oov_rate": round(float((split.ids[real] == UNK_ID).mean()), 6) if real.any() else 0.0,
            }
        return metrics


# benchmarks/tokenize_throughput.py on 2 cores (results/tokenize.md): two processes lose to one below ~500k texts
# (each worker's imports and shipping the texts cost more than half the work) and tie or win from ~750k
# (0.88-1.09x of one process at 750k, 0.91-0.98x at 1.25M); with more cores the share of the work grows.
PARALLEL_THRESHOLD = 500_000
CHUNK_SIZE = 5_000


@dataclass(frozen=True)
class ChunkTokenizer:
    """How one text becomes tokens, as plain values a spawned worker can receive: a classifier's text truncated,
    optionally framed by ``<bos>``/``<eos>``, ``<empty>`` when cleaning emptied it; a language model's line
    followed by ``<eos>``."""

    method: str
    bos_eos: bool = False
    max_length: int | None = None
    end_of_line: bool = False

    def function(self) -> Callable[[str], list[str]]:
        tokenize = get_tokenizer(self.method, self.bos_eos, self.max_length)
        if self.end_of_line:
            return lambda text: [*tokenize(text), EOS]
        return lambda text: tokens_or_empty(tokenize, text)


@dataclass
class TokenizedChunk:
    """A chunk's tokens as ids into its own small vocabulary (``tokens``, in order of first sight), with how
    often each occurs: arrays pickle back from a worker at a fraction of the cost of token lists, and mapping
    local ids to the corpus vocabulary afterwards is one numpy gather."""

    tokens: list[str]
    counts: np.ndarray
    ids: np.ndarray
    lengths: np.ndarray


_worker_tokenize: Callable[[str], list[str]] | None = None


def _init_worker(tokenizer: ChunkTokenizer) -> None:
    global _worker_tokenize
    _worker_tokenize = tokenizer.function()


class _FirstSightIndex(dict):
    """token -> its position in order of first sight; a lookup of a new token adds it."""

    def __missing__(self, token: str) -> int:
        self[token] = position = len(self)
        return position


def _tokenize_chunk(texts: Sequence[str]) -> TokenizedChunk:
    assert _worker_tokenize is not None
    index, ids, lengths = _FirstSightIndex(), array("i"), array("q")
    with cycle_collection_paused():
        for tokens in map(_worker_tokenize, texts):
            lengths.append(len(tokens))
            ids.extend(map(index.__getitem__, tokens))
    local_ids = np.frombuffer(ids, dtype=np.int32)
    return TokenizedChunk(
        list(index), np.bincount(local_ids, minlength=len(index)), local_ids, np.frombuffer(lengths, np.int64)
    )


def _tokenize_splits(
    frames: dict[str, pd.DataFrame], tokenizer: ChunkTokenizer, workers: int
) -> dict[str, list[TokenizedChunk]]:
    """Every split's texts tokenized, in chunks, in parallel for a large corpus."""
    texts = {split: frame["text"].tolist() for split, frame in frames.items()}
    if warning := unsegmented_warning(tokenizer.method, texts.get("train", [])):
        log.warning("%s", warning)
    total = sum(len(split_texts) for split_texts in texts.values())
    processes = process_count(total, workers, PARALLEL_THRESHOLD)
    chunks = [(split, chunk) for split, split_texts in texts.items() for chunk in chunked(split_texts, CHUNK_SIZE)]
    results = map_chunks(
        _tokenize_chunk,
        [chunk for _, chunk in chunks],
        processes,
        _init_worker,
        (tokenizer,),
        log,
        f"tokenizing {total} texts",
    )
    by_split: dict[str, list[TokenizedChunk]] = {split: [] for split in frames}
    for (split, _), result in zip(chunks, results, strict=True):
        by_split[split].append(result)
    return by_split


def _vocabulary(chunks: list[TokenizedChunk], options: TokenizeParams) -> Vocabulary:
    counter: Counter[str] = Counter()
    for chunk in chunks:
        for token, count in zip(chunk.tokens, chunk.counts.tolist(), strict=True):
            counter[token] += count
    return Vocabulary.from_counts(counter, options.min_freq, options.max_size)


def _encoded(chunks: list[TokenizedChunk], vocabulary: Vocabulary, labels: Sequence[int]) -> EncodedSplit:
    index = vocabulary.index
    ids = [
        np.fromiter((index.get(token, UNK_ID) for token in chunk.tokens), np.int32, len(chunk.tokens))[chunk.ids]
        for chunk in chunks
    ]
    lengths = [chunk.lengths for chunk in chunks]
    return EncodedSplit.from_arrays(
        np.concatenate(ids) if ids else np.zeros(0, np.int32),
        np.concatenate(lengths) if lengths else np.zeros(0, np.int64),
        labels,
    )


def encode_corpus(frames: dict[str, pd.DataFrame], options: TokenizeParams) -> EncodedCorpus:
    """``frames``: split -> cleaned ``text``/``label`` frame, with a ``train`` split."""
    labels = {split: frame["label"].astype(str) for split, frame in frames.items()}
    class_names = sorted(labels["train"].unique())
    unknown = sorted(set().union(*(set(split_labels.unique()) for split_labels in labels.values())) - set(class_names))
    if unknown:
        raise ValueError(f"labels {unknown[:5]} occur outside the training split; the model cannot learn them")
    tokenizer = ChunkTokenizer(options.method, options.bos_eos, options.max_length)
    chunks = _tokenize_splits(frames, tokenizer, options.workers)
    vocabulary = _vocabulary(chunks["train"], options)
    class_index = pd.Index(class_names)
    splits = {
        split: _encoded(split_chunks, vocabulary, class_index.get_indexer(labels[split]))
        for split, split_chunks in chunks.items()
    }
    return EncodedCorpus(vocabulary, class_names, splits)


def encode_stream(frames: dict[str, pd.DataFrame], options: TokenizeParams) -> EncodedCorpus:
    """A language model's corpus: every line's tokens followed by ``<eos>``, the vocabulary from ``train`` only;
    a split's ``ids`` are its token stream (``offsets`` still mark the lines), and there are no classes."""
    chunks = _tokenize_splits(frames, ChunkTokenizer(options.method, end_of_line=True), options.workers)
    vocabulary = _vocabulary(chunks["train"], options)
    splits = {
        split: _encoded(split_chunks, vocabulary, [0] * len(frames[split])) for split, split_chunks in chunks.items()
    }
    return EncodedCorpus(vocabulary, [], splits)
