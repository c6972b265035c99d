"""Tokenize throughput: the tokenize stage's encoder in one process and on every usable core, against the
list-of-lists reference it replaced, at several corpus sizes; same ids from all three.

    python -m benchmarks.tokenize_throughput [--sizes 100000 300000 1000000] [--record]

Input: the demo corpus's training texts cleaned as the clean stage does by default, repeated up to each size
(a quarter of it again as the test split). The reference tokenizes every text into a list, builds the vocabulary
from those lists and encodes them one by one (the stage's algorithm until stop 35). ``--record`` appends the table
to ``benchmarks/results/tokenize.md``; it decides ``PARALLEL_THRESHOLD`` in ``pipelines/text/encode.py``. Keep the
machine otherwise idle while it runs. Its workers import this module again (spawn), so what only ``main`` needs is
imported there.
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.common.allocation import cycle_collection_paused
from pipelines.common.parallel import usable_cores
from pipelines.config import DemoCorpus, TokenizeParams
from pipelines.text import encode
from pipelines.text.sequences import EncodedSplit
from pipelines.text.tokenizers import get_tokenizer, tokens_or_empty
from pipelines.text.vocab import Vocabulary

RESULTS = Path(__file__).resolve().parent / "results" / "tokenize.md"


def reference_encode(frames: dict[str, pd.DataFrame], options: TokenizeParams) -> dict[str, EncodedSplit]:
    tokenizer = get_tokenizer(options.method, options.bos_eos, options.max_length)
    tokens = {split: [tokens_or_empty(tokenizer, text) for text in frame["text"]] for split, frame in frames.items()}
    vocabulary = Vocabulary.build(tokens["train"], options.min_freq, options.max_size)
    return {
        split: EncodedSplit.from_lists([vocabulary.encode(sequence) for sequence in sequences], [0] * len(sequences))
        for split, sequences in tokens.items()
    }


def corpus(size: int, base: list[str]) -> dict[str, pd.DataFrame]:
    def repeated(count: int) -> pd.DataFrame:
        texts = (base * (count // len(base) + 1))[:count]
        return pd.DataFrame({"text": texts, "label": ["a"] * count})

    return {"train": repeated(size), "valid": repeated(1000), "test": repeated(size // 4)}


def timed(function, *args):
    began = time.perf_counter()
    with cycle_collection_paused():
        result = function(*args)
    return result, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--method", default="word", choices=["word", "char"])
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    from pipelines.data.demo import generate_demo_corpus
    from pipelines.text.clean import CleanSettings, clean_texts

    raw = generate_demo_corpus(DemoCorpus(train_size=20_000, test_size=20), seed=0)["train"].text.tolist()
    base = clean_texts(raw, CleanSettings(), workers=1)
    options = TokenizeParams(method=args.method)
    cores = usable_cores()
    encode.PARALLEL_THRESHOLD = 0
    rows = []
    for size in args.sizes:
        frames = corpus(size, base)
        texts = sum(len(frame) for frame in frames.values())
        reference, reference_seconds = timed(reference_encode, frames, options)
        seconds = {}
        for processes in (1, cores):
            encoded, seconds[processes] = timed(
                encode.encode_corpus, frames, options.model_copy(update={"workers": processes})
            )
            for split, expected in reference.items():
                assert np.array_equal(encoded.splits[split].ids, expected.ids), f"{split}: ids differ"
                assert np.array_equal(encoded.splits[split].offsets, expected.offsets), f"{split}: lengths differ"
        rows.append((texts, reference_seconds, seconds[1], seconds[cores]))
        print(
            f"{texts:>9,} texts: reference {reference_seconds:6.2f} s, 1 process {seconds[1]:6.2f} s, "
            f"{cores} processes {seconds[cores]:6.2f} s (same ids)",
            flush=True,
        )
    table = [
        f"| texts | reference s | 1 process s | {cores} processes s | {cores} processes against 1 |",
        "| ---: | ---: | ---: | ---: | ---: |",
        *(f"| {t:,} | {r:.2f} | {one:.2f} | {many:.2f} | {many / one:.2f}x |" for t, r, one, many in rows),
    ]
    print("\n".join(table))
    if args.record:
        heading = f"### `{args.method}` tokens, {cores} usable cores ({datetime.date.today()})"
        with RESULTS.open("a") as results:
            if results.tell() == 0:
                results.write(
                    "# Tokenize throughput\n\n`python -m benchmarks.tokenize_throughput --record`, machine otherwise "
                    "idle. Seconds for every split (train, 1,000 valid, a quarter of train as test), the demo "
                    "corpus's cleaned texts repeated; ids identical in every column.\n"
                )
            results.write(f"\n{heading}\n\n" + "\n".join(table) + "\n")


if __name__ == "__main__":
    main()
