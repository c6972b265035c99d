"""Cleaned text -> token ids: tokenize every split, build the vocabulary on ``train`` only, encode labels
by their sorted names. The tokenize stage and the benchmarks share this, so both see the same ids."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipelines.config import TokenizeParams
from pipelines.text.sequences import EncodedSplit
from pipelines.text.tokenizers import get_tokenizer, tokens_or_unknown
from pipelines.text.vocab import BOS, EOS, UNK_ID, Vocabulary


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


def encode_corpus(frames: dict[str, pd.DataFrame], options: TokenizeParams) -> EncodedCorpus:
    """``frames``: split -> cleaned ``text``/``label`` frame, with a ``train`` split."""
    tokenizer = get_tokenizer(options.method, options.bos_eos, options.max_length)
    tokens = {split: [tokens_or_unknown(tokenizer, text) for text in frame["text"]] for split, frame in frames.items()}
    vocabulary = Vocabulary.build(tokens["train"], options.min_freq, options.max_size)
    class_names = sorted(frames["train"]["label"].astype(str).unique())
    class_index = {name: position for position, name in enumerate(class_names)}
    unknown = sorted(set().union(*(set(frame["label"].astype(str)) for frame in frames.values())) - set(class_names))
    if unknown:
        raise ValueError(f"labels {unknown[:5]} occur outside the training split; the model cannot learn them")
    splits = {
        split: EncodedSplit.from_lists(
            [vocabulary.encode(sequence) for sequence in sequences],
            [class_index[label] for label in frames[split]["label"].astype(str)],
        )
        for split, sequences in tokens.items()
    }
    return EncodedCorpus(vocabulary, class_names, splits)


def encode_stream(frames: dict[str, pd.DataFrame], options: TokenizeParams) -> EncodedCorpus:
    """A language model's corpus: every line's tokens followed by ``<eos>``, the vocabulary from ``train`` only;
    a split's ``ids`` are its token stream (``offsets`` still mark the lines), and there are no classes."""
    tokenize = get_tokenizer(options.method)
    tokens = {split: [[*tokenize(text), EOS] for text in frame["text"]] for split, frame in frames.items()}
    vocabulary = Vocabulary.build(tokens["train"], options.min_freq, options.max_size)
    splits = {
        split: EncodedSplit.from_lists([vocabulary.encode(line) for line in lines], [0] * len(lines))
        for split, lines in tokens.items()
    }
    return EncodedCorpus(vocabulary, [], splits)
