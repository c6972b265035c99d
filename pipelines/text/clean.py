"""Classic nltk-style cleaning: lower-case, strip markup, regex tokenization, stopwords, Porter stemming.

The output must equal, token for token, the naive reference in ``benchmarks/naive_clean.py`` (a fresh
``PorterStemmer()`` and an uncompiled regex per sentence). The speed comes from three things that do not
change the result: patterns compiled once (and the costly ``n't`` alternatives only for texts that contain
``n't``), stopwords in a frozenset, and a per-process stem cache (Porter stemming is a pure function of the
word, and natural text repeats words heavily). Large inputs are split
across processes, each with its own cache; order is preserved.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.common.parallel import chunked, map_chunks, process_count
from pipelines.config import CleanParams

log = logging.getLogger(__name__)

# URLs, HTML/XML tags and character entities carry no meaning for a bag of words.
MARKUP_PATTERN = r"https?://\S+|www\.\S+|<[^>]{1,200}>|&#?\w{1,10};"
# Contractions are split the treebank way ("don't" -> "do", "n't"; "it's" -> "it", "'s"), then words,
# then (optionally) every other non-space character as its own token.
NEGATION_PATTERN = r"[^\W\d_]+(?=n't\b)|n't\b|"
WORD_PATTERN = NEGATION_PATTERN + r"'(?:s|ve|re|d|ll|m)\b|\w+"
PUNCTUATION_PATTERN = r"|[^\w\s]"

# Measured on 2 cores (benchmarks/clean_throughput.py): spawned workers cost ~1 s of start-up and lost to one
# process at 100k SST-2 sentences (56k vs 116k sentences/s) but won at 1M (176k vs 133k sentences/s).
PARALLEL_THRESHOLD = 300_000
CHUNK_SIZE = 5_000


@dataclass(frozen=True)
class CleanSettings:
    lowercase: bool = True
    punctuation: bool = True
    stopwords: frozenset[str] = frozenset()
    stem: bool = True
    style: str = "treebank"  # pipelines.config.CleanStyle

    @classmethod
    def from_params(cls, options: CleanParams, stopwords: Iterable[str]) -> CleanSettings:
        """What the ``clean`` section of params.yaml asks for, with the stopword list the download stage chose
        (``clean.stopwords`` names that list; ``clean.workers`` only sets the speed)."""
        return cls(options.lowercase, options.punctuation, frozenset(stopwords), options.stem, options.style)

    def to_config(self) -> dict:
        """The settings a served model's preprocessing config holds (read back by :meth:`from_config`)."""
        return {"style": self.style, "lowercase": self.lowercase, "punctuation": self.punctuation, "stem": self.stem}

    @classmethod
    def from_config(cls, clean: dict, stopwords: Iterable[str]) -> CleanSettings:
        """From the ``clean`` section as a saved model's preprocessing config holds it (no ``style`` before it
        existed: treebank)."""
        return cls(
            clean["lowercase"],
            clean["punctuation"],
            frozenset(stopwords),
            clean["stem"],
            clean.get("style", "treebank"),
        )


# Kim (2014)'s clean_str and clean_str_sst (CNN_sentence, process_data.py / process_data_sst.py), kept exact:
# its replacements " \( ", " \) ", " \? " put a backslash before the bracket or question mark (re.sub leaves
# an unknown escape of punctuation as written), so those tokens are "\(", "\)" and "\?".
KIM_KEEP = re.compile(r"[^A-Za-z0-9(),!?\'\`]")
KIM_RULES = [
    (re.compile(pattern), replacement)
    for pattern, replacement in [
        (r"\'s", " 's"),
        (r"\'ve", " 've"),
        (r"n\'t", " n't"),
        (r"\'re", " 're"),
        (r"\'d", " 'd"),
        (r"\'ll", " 'll"),
        (r",", " , "),
        (r"!", " ! "),
        (r"\(", " \\( "),
        (r"\)", " \\) "),
        (r"\?", " \\? "),
    ]
]
KIM_SPACES = re.compile(r"\s{2,}")


def normalise_whitespace(text: str) -> str:
    """A language model's corpus line as written, every run of whitespace one space (clean.py's lossless step)."""
    return " ".join(text.split())


def kim_clean(text: str, sst: bool) -> str:
    """Kim's cleaning before lower-casing (his ``TREC=True`` keeps case; here ``clean.lowercase`` decides)."""
    text = KIM_KEEP.sub(" ", text)
    if not sst:
        for pattern, replacement in KIM_RULES:
            text = pattern.sub(replacement, text)
    return KIM_SPACES.sub(" ", text).strip()


def token_pattern(punctuation: bool, negation: bool = True) -> str:
    """The tokenizing regex; without ``negation`` it lacks the ``n't`` alternatives, which can only match a text
    that contains ``n't`` and cost a backtracking scan of every word of every other text."""
    words = WORD_PATTERN if negation else WORD_PATTERN.removeprefix(NEGATION_PATTERN)
    return words + (PUNCTUATION_PATTERN if punctuation else "")


def _porter_stemmer() -> Any:
    """nltk's Porter stemmer, imported only when stemming is on: importing nltk imports scikit-learn, scipy.stats
    and pandas (4 s here), once in the stage and again in every worker process."""
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer()


class TextCleaner:
    """Turns raw sentences into cleaned token lists; reuse one instance to keep its token cache warm.

    Stopword removal and stemming are folded into one dict lookup per token: ``_final[token]`` is the
    token's stem (or itself when stemming is off), or ``""`` for a stopword, which the comprehension drops.
    A token seen for the first time misses the dict and is computed once.
    """

    def __init__(self, settings: CleanSettings):
        self.settings = settings
        self._markup = re.compile(MARKUP_PATTERN)
        self._findall = re.compile(token_pattern(settings.punctuation)).findall
        self._findall_without_negation = re.compile(token_pattern(settings.punctuation, negation=False)).findall
        self._stemmer = _porter_stemmer() if settings.stem else None
        self._final: dict[str, str] = {}
        self._kim_style = settings.style != "treebank"

    def _resolve(self, token: str) -> str:
        if token in self.settings.stopwords:
            final = ""
        elif self.settings.stem:
            final = self._stemmer.stem(token)
        else:
            final = token
        self._final[token] = final
        return final

    def tokens(self, text: str) -> list[str]:
        if self._kim_style:
            text = kim_clean(text, sst=self.settings.style == "kim_sst")
            tokens = (text.lower() if self.settings.lowercase else text).split()
            return self._final_tokens(tokens)
        if self.settings.lowercase:
            text = text.lower()
        # Each pattern below cannot match without its substring; testing for that is far cheaper.
        if "<" in text or "&" in text or "://" in text or "www." in text:
            text = self._markup.sub(" ", text)
        return self._final_tokens(self._findall(text) if "n't" in text else self._findall_without_negation(text))

    def _final_tokens(self, tokens: list[str]) -> list[str]:
        """Stopwords dropped and tokens stemmed, through the per-token cache."""
        try:
            return list(filter(None, map(self._final.__getitem__, tokens)))
        except KeyError:
            for token in tokens:
                if token not in self._final:
                    self._resolve(token)
            return list(filter(None, map(self._final.__getitem__, tokens)))

    def clean_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokens(text) for text in texts]

    def clean_joined(self, texts: Iterable[str]) -> list[str]:
        """Cleaned texts as tokens joined by single spaces (lossless: a token never contains whitespace)."""
        tokens = self.tokens
        return [" ".join(tokens(text)) for text in texts]


_worker_cleaner: TextCleaner | None = None


def _init_worker(settings: CleanSettings) -> None:
    global _worker_cleaner
    _worker_cleaner = TextCleaner(settings)


def _clean_chunk(texts: Sequence[str]) -> list[str]:
    assert _worker_cleaner is not None
    return _worker_cleaner.clean_joined(texts)


def clean_texts(texts: Sequence[str], settings: CleanSettings, workers: int = 0) -> list[str]:
    """Clean every text into space-joined tokens; uses ``workers`` processes (0 = one per usable core) once the
    input is large enough for process start-up to pay off. Workers send back joined strings because
    pickling one string per text is several times cheaper than a list of token strings."""
    processes = process_count(len(texts), workers, PARALLEL_THRESHOLD)
    chunks = chunked(texts, CHUNK_SIZE) if processes > 1 else [texts]
    cleaned = map_chunks(
        _clean_chunk, chunks, processes, _init_worker, (settings,), log, f"cleaning {len(texts)} texts"
    )
    return [text for chunk in cleaned for text in chunk]
