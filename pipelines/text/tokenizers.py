"""Splitting cleaned text into model tokens: ``word``, ``char`` or ``jieba`` (Chinese word segmentation).

Cleaned text is stored as tokens joined by single spaces, so ``word`` is a split; ``char`` keeps the space
as a token because word boundaries matter to character models; ``jieba`` segments runs of Chinese
characters that the regex cleaner left whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import get_args

from pipelines.config import TokenizerMethod
from pipelines.text.vocab import BOS, EOS

TOKENIZERS: tuple[str, ...] = get_args(TokenizerMethod)


def word_tokens(text: str) -> list[str]:
    return text.split()


def char_tokens(text: str) -> list[str]:
    return list(text)


def jieba_tokens(text: str) -> list[str]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [token for token in jieba.lcut(text) if token.strip()]


def get_tokenizer(method: str, bos_eos: bool = False, max_length: int | None = None) -> Callable[[str], list[str]]:
    """A function text -> tokens, truncated to ``max_length`` (counting ``<bos>``/``<eos>`` when added)."""
    try:
        split = {"word": word_tokens, "char": char_tokens, "jieba": jieba_tokens}[method]
    except KeyError:
        raise ValueError(f"unknown tokenizer {method!r}; known: {', '.join(TOKENIZERS)}") from None
    body_length = None if max_length is None else max(1, max_length - (2 if bos_eos else 0))

    def tokenize(text: str) -> list[str]:
        tokens = split(text)[:body_length]
        return [BOS, *tokens, EOS] if bos_eos else tokens

    return tokenize


EMPTY = "<empty>"
"""The one token of a text that cleaning emptied: a word like any other (counted, kept by ``min_freq``)."""


def tokens_or_empty(tokenize: Callable[[str], list[str]], text: str) -> list[str]:
    """Tokens of ``text``; a text that cleaning emptied becomes the one token ``<empty>``, so every row has a
    token. Not ``<unk>``, which is what every word training never saw becomes when a model predicts: sharing it
    gave those words whatever the emptied training texts taught. On SpamAssassin's subjects (one fold: 5 of 3,485
    training subjects emptied, 12% of the validation words unseen) scikit-learn's logistic regression scored 79.8%
    on validation over the ids encoded that way, 90.2% over the words."""
    return tokenize(text) or [EMPTY]
