"""Progress bars for long work, shown only on a terminal.

Airflow task logs and CI output are not terminals: there a bar would write hundreds of carriage-return
updates into the log, so it is switched off and the stages' one line per epoch (or per file) is the progress.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm import tqdm

Item = TypeVar("Item")


def on_terminal() -> bool:
    return sys.stderr.isatty()


def progress(items: Iterable[Item], **options: Any) -> Iterator[Item]:
    """``tqdm(items)`` on a terminal (bar removed when done), ``items`` unchanged elsewhere."""
    if not on_terminal():
        return iter(items)
    return iter(tqdm(items, leave=False, dynamic_ncols=True, file=sys.stderr, **options))


def byte_bar(total: int | None, description: str) -> tqdm:
    """A bytes bar (``update(n)`` per block); a no-op bar off a terminal."""
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=description,
        leave=False,
        file=sys.stderr,
        disable=not on_terminal(),
    )
