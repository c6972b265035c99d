"""The file of unlabelled sentences (``embed.extra_text``) the download stage writes and the embed stage reads.

A header line names the source, so the file is never empty (DVC warns about an empty output on every repro),
then one sentence a line, whitespace normalised."""

from __future__ import annotations

from pathlib import Path


def extra_text_file(name: str, sentences: list[str]) -> str:
    header = f"# unlabelled sentences of embed.extra_text: {name} ({len(sentences)})\n"
    return header + "".join(" ".join(sentence.split()) + "\n" for sentence in sentences)


def read_extra_text(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").split("\n")
    return [line for line in lines[1:] if line]
