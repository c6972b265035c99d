"""Labelled phrases of the Stanford Sentiment Treebank, the training data of every published SST number.

Kim (2014), harvardnlp's replication and the RNTN paper train on every labelled node of the training trees
and score on whole sentences. A tree line is PTB-style and strictly binary, every node labelled 0-4::

    (3 (2 (2 The) (2 Rock)) (4 (3 (2 is) ...

Leaves hold no spaces but may end in ")" (an emoticon such as ``:-)``), so a leaf's closing parentheses cannot
be told apart by reading characters. They can by structure: a leaf closes its own node, then every ancestor
that already has its two children; what remains of the token is the word.

Phrases are lower-cased and deduplicated on their text, the first occurrence's label kept (583 texts occur
with two labels, e.g. a capitalised and a lower-case copy): 156,817 fine phrases from the 8,544 training trees,
76,961 once neutral (2) is dropped for the binary task.
"""

from __future__ import annotations

import re
from typing import Literal

import pandas as pd

from pipelines.common.errors import InputError

Labelling = Literal["fine", "binary"]
NEUTRAL = 2
NODE_OPEN = re.compile(r"\(([0-4])")


class TreebankError(InputError, ValueError):
    """A tree line is not a well-formed binary SST tree."""


def tree_nodes(line: str) -> list[tuple[int, str]]:
    """Every node of one tree as (label, its leaves joined by spaces), children before their parents."""
    stack: list[tuple[int, list[str], list[int]]] = []  # label, words so far, [children seen]
    nodes = []
    for token in line.strip().split(" "):
        opened = NODE_OPEN.fullmatch(token)
        if opened:
            if stack:
                stack[-1][2][0] += 1
            stack.append((int(opened.group(1)), [], [0]))
            continue
        if not stack:
            raise TreebankError(f"leaf {token!r} outside any node")
        closings = 1
        while closings < len(stack) and stack[-1 - closings][2][0] == 2:
            closings += 1
        if not token.endswith(")" * closings) or len(token) == closings:
            raise TreebankError(f"leaf {token!r} should close {closings} node(s)")
        word = token[:-closings]
        for _, words, _ in stack:
            words.append(word)
        for _ in range(closings):
            label, words, _ = stack.pop()
            nodes.append((label, " ".join(words)))
    if stack:
        raise TreebankError(f"{len(stack)} node(s) never closed")
    return nodes


def treebank_phrases(lines: list[str], labelling: Labelling) -> pd.DataFrame:
    """``label``/``text`` rows for every distinct lower-cased phrase of ``lines`` (one tree per line).

    ``binary``: neutral phrases are dropped, 0-1 become 0 (negative) and 3-4 become 1 (positive), the labels of
    the sentence-level ``stsa.binary`` files; ``fine`` keeps 0-4 as ``stsa.fine`` does."""
    labels: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        try:
            nodes = tree_nodes(line)
        except TreebankError as error:
            raise TreebankError(f"tree line {number}: {error}") from None
        for label, text in nodes:
            labels.setdefault(text.lower(), label)
    if labelling == "binary":
        rows = [(int(label > NEUTRAL), text) for text, label in labels.items() if label != NEUTRAL]
    else:
        rows = [(label, text) for text, label in labels.items()]
    return pd.DataFrame(rows, columns=["label", "text"]).astype({"label": str})
