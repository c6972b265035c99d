"""Raw text -> token ids exactly as the clean and tokenize stages do it, for serving and prediction.

The served model must see the same ids for a sentence as the pipeline's test split did; this module and
the two stages share every step (:class:`TextCleaner`, :func:`get_tokenizer`, :func:`tokens_or_empty`,
:class:`Vocabulary`), and ``tests/test_serving.py`` checks the ids match on the test split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipelines.config import CleanParams, TokenizeParams
from pipelines.text.clean import CleanSettings, TextCleaner
from pipelines.text.tokenizers import get_tokenizer, tokens_or_empty
from pipelines.text.vocab import Vocabulary


class Preprocessor:
    def __init__(
        self, clean: dict[str, Any], tokenize: dict[str, Any], stopwords: Sequence[str], vocabulary: Vocabulary
    ):
        self.config = {"task": "classification", "clean": clean, "tokenize": tokenize, "stopwords": sorted(stopwords)}
        self.cleaner = TextCleaner(CleanSettings.from_config(clean, stopwords))
        self.tokenizer = get_tokenizer(tokenize["method"], tokenize["bos_eos"], tokenize["max_length"])
        self.vocabulary = vocabulary

    @classmethod
    def from_params(
        cls, clean: CleanParams, tokenize: TokenizeParams, stopwords: Sequence[str], vocabulary: Vocabulary
    ) -> Preprocessor:
        """What the clean and tokenize stages were asked to do, as the served config holds it: the cleaning
        settings and the three tokenizer settings that shape a text's ids (the vocabulary is already built)."""
        served_tokenize = {"method": tokenize.method, "bos_eos": tokenize.bos_eos, "max_length": tokenize.max_length}
        return cls(CleanSettings.from_params(clean, stopwords).to_config(), served_tokenize, stopwords, vocabulary)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        cleaned = self.cleaner.clean_joined(texts)
        return [self.vocabulary.encode(tokens_or_empty(self.tokenizer, text)) for text in cleaned]
