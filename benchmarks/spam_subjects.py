"""The ``spam-subjects`` set of :mod:`benchmarks.untuned`: the Subject line of each message of the SpamAssassin
public corpus (:data:`pipelines.data.registry.SPAM_ASSASSIN`), labelled ``spam`` or ``ham``.

Why the subject: a short text, as the four benchmark sets' sentences are, and the text alone: a message's
headers (relays, mailer, dates) would give spam away without reading a word.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import tarfile
from pathlib import Path

MESSAGE = re.compile(r"package/data/[^/]+/[^/]+\.json")
"""A message's file (``package/data/file_list.json`` beside the groups is an index, not a message)."""


def subject_of(message: str) -> str:
    """The decoded Subject header (RFC 2047 words), whitespace collapsed; empty when there is none."""
    subject = email.message_from_string(message, policy=email.policy.default).get("Subject", "")
    return " ".join(str(subject).split())


def labelled_subjects(archive: Path) -> list[tuple[str, str]]:
    """``(label, subject)`` of every message, in the archive's order of groups and messages; a hard-ham or
    easy-ham group is ham."""
    rows: list[tuple[str, str]] = []
    with tarfile.open(archive) as bundle:
        messages = sorted(
            (member for member in bundle.getmembers() if member.isfile() and MESSAGE.fullmatch(member.name)),
            key=lambda member: member.name,
        )
        for member in messages:
            record = json.load(bundle.extractfile(member))
            label = "spam" if record["group"].startswith("spam") else "ham"
            rows.append((label, subject_of(record["text"])))
    return rows
