"""Token vocabulary with reserved specials and deterministic ids.

Ids 0-3 are always ``<pad>``, ``<unk>``, ``<bos>``, ``<eos>`` so that padding is id 0 in every model and a
vocabulary file can be read without knowing which options built it. The rest are ordered by descending
frequency, ties broken alphabetically, so the same corpus always yields the same ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.common.io import read_json, write_json

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(4)


@dataclass
class Vocabulary:
    tokens: list[str]
    counts: list[int]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {token: position for position, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 1, max_size: int | None = None) -> Vocabulary:
        """Keep tokens seen at least ``min_freq`` times; ``max_size`` counts the specials too."""
        counter: Counter[str] = Counter()
        for tokens in token_lists:
            counter.update(tokens)
        return cls.from_counts(counter, min_freq, max_size)

    @classmethod
    def from_counts(cls, counter: Counter[str], min_freq: int = 1, max_size: int | None = None) -> Vocabulary:
        """As :meth:`build`, from token counts already made (``counter`` loses its specials)."""
        for special in SPECIALS:
            counter.pop(special, None)
        ranked = sorted((item for item in counter.items() if item[1] >= min_freq), key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            ranked = ranked[: max(0, max_size - len(SPECIALS))]
        return cls([*SPECIALS, *(token for token, _ in ranked)], [0] * len(SPECIALS) + [count for _, count in ranked])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        index = self.index
        return [index.get(token, UNK_ID) for token in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[i] for i in ids]

    def save(self, path: str | Path) -> None:
        write_json(path, {"tokens": self.tokens, "counts": self.counts})

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        data = read_json(path)
        return cls(data["tokens"], data["counts"])
