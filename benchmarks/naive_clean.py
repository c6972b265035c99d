"""The naive reference for the clean stage: how the cleaning is usually written in a notebook.

Every sentence goes through module-level ``re`` calls (pattern lookup each time), stopwords are a list,
and each word gets a freshly built ``PorterStemmer()``. ``pipelines.text.clean`` must produce exactly the
same tokens; ``tests/test_clean.py`` checks that and ``benchmarks/clean_throughput.py`` measures the speed-up.
"""

from __future__ import annotations

import re

from nltk.stem.porter import PorterStemmer

from pipelines.text.clean import MARKUP_PATTERN, token_pattern


def naive_clean(
    texts: list[str], lowercase: bool, punctuation: bool, stopwords: list[str], stem: bool
) -> list[list[str]]:
    cleaned = []
    for text in texts:
        if lowercase:
            text = text.lower()
        text = re.sub(MARKUP_PATTERN, " ", text)
        tokens = re.findall(token_pattern(punctuation), text)
        tokens = [token for token in tokens if token not in stopwords]
        if stem:
            tokens = [PorterStemmer().stem(token) for token in tokens]
        cleaned.append(tokens)
    return cleaned
