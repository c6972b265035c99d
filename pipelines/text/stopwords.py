"""Stopword lists by name. nltk's list arrives through the download mechanism (registry + mirror + checksum),
because nltk's own downloader host is not reachable from every machine; gensim's ships inside the package."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import get_args

from pipelines.config import StopwordSource
from pipelines.data.registry import NLTK_STOPWORDS

STOPWORD_SOURCES: tuple[str, ...] = get_args(StopwordSource)


def stopword_list(source: str, language: str = "english") -> list[str]:
    """The sorted stopword list for ``source`` in ``language`` (nltk's corpus has ``chinese`` too; gensim's is
    English only); empty for ``none``."""
    if source == "none":
        return []
    if source == "gensim":
        if language != "english":
            raise ValueError(f"gensim has no {language} stopword list; use nltk")
        from gensim.parsing.preprocessing import STOPWORDS

        return sorted(STOPWORDS)
    if source == "nltk":
        from pipelines.data.download import materialize  # the download stage's part: reading a list needs none

        with tempfile.TemporaryDirectory() as scratch:
            listed = Path(scratch, language)
            materialize(dataclasses.replace(NLTK_STOPWORDS, member=f"stopwords/{language}"), listed)
            words = listed.read_text(encoding="utf-8").split()
        return sorted(set(words))
    raise ValueError(f"unknown stopword source {source!r}; known: {', '.join(STOPWORD_SOURCES)}")


def read_stopwords(path: str | Path) -> frozenset[str]:
    """One word per line; lines starting with ``#`` are comments (the download stage writes a header)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
