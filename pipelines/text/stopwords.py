"""Stopword lists by name. nltk's list arrives through the download mechanism (registry + mirror + checksum),
because nltk's own downloader host is not reachable from every machine; gensim's ships inside the package."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pipelines.data.download import materialize
from pipelines.data.registry import NLTK_STOPWORDS

STOPWORD_SOURCES = ("nltk", "gensim", "none")


def stopword_list(source: str) -> list[str]:
    """The sorted English stopword list for ``source``; empty for ``none``."""
    if source == "none":
        return []
    if source == "gensim":
        from gensim.parsing.preprocessing import STOPWORDS

        return sorted(STOPWORDS)
    if source == "nltk":
        with tempfile.TemporaryDirectory() as scratch:
            english = Path(scratch, "english")
            materialize(NLTK_STOPWORDS, english)
            words = english.read_text(encoding="utf-8").split()
        return sorted(set(words))
    raise ValueError(f"unknown stopword source {source!r}; known: {', '.join(STOPWORD_SOURCES)}")


def read_stopwords(path: str | Path) -> frozenset[str]:
    """One word per line; lines starting with ``#`` are comments (the download stage writes a header)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
