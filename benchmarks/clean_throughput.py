"""Cleaning throughput: the clean stage's cleaner against the naive reference, same input, same output.

    python -m benchmarks.clean_throughput [--sentences 100000] [--workers 0]

Input: real SST-2 training sentences when the mirror is available (``TEXTFLOW_MIRROR``), repeated up to
``--sentences``, else the synthetic demo corpus. Both cleaners run with lower-casing, punctuation,
nltk-or-gensim stopwords and Porter stemming on. The naive reference is timed on a sample (it is slow)
and reported per sentence; outputs are compared on that sample. Prints the speed-up ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from benchmarks.naive_clean import naive_clean
from pipelines.config import DemoCorpus
from pipelines.data.demo import generate_demo_corpus
from pipelines.text.clean import CleanSettings, clean_texts
from pipelines.text.stopwords import stopword_list


def load_sentences(count: int) -> tuple[list[str], str, str]:
    if os.environ.get("TEXTFLOW_MIRROR"):
        from pipelines.data.download import materialize
        from pipelines.data.formats import read_label_text
        from pipelines.data.registry import get_dataset

        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch, "train.txt")
            materialize(get_dataset("sst2").splits["train"], path)
            base = read_label_text(path).text.tolist()
        source, stopwords = "SST-2 train sentences (repeated)", "nltk"
    else:
        base = generate_demo_corpus(DemoCorpus(train_size=20_000, test_size=20), seed=0)["train"].text.tolist()
        source, stopwords = "synthetic demo corpus", "gensim"
    repeated = (base * (count // len(base) + 1))[:count]
    return repeated, source, stopwords


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=100_000)
    parser.add_argument("--reference-sample", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=0, help="processes for the fast cleaner (0 = all cores)")
    args = parser.parse_args()

    texts, source, stopword_source = load_sentences(args.sentences)
    words = stopword_list(stopword_source)
    settings = CleanSettings(lowercase=True, punctuation=True, stopwords=frozenset(words), stem=True)
    sample = texts[: args.reference_sample]

    began = time.perf_counter()
    reference = naive_clean(sample, True, True, words, True)
    naive_per_sentence = (time.perf_counter() - began) / len(sample)

    began = time.perf_counter()
    fast_serial = clean_texts(sample, settings, workers=1)
    serial_per_sentence = (time.perf_counter() - began) / len(sample)
    assert fast_serial == reference, "fast cleaner output differs from the naive reference"

    began = time.perf_counter()
    fast_all = clean_texts(texts, settings, workers=args.workers)
    fast_per_sentence = (time.perf_counter() - began) / len(texts)
    assert fast_all[: len(sample)] == reference, "parallel cleaner output differs from the naive reference"

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"input: {len(texts):,} sentences from {source}; stopwords {stopword_source} ({len(words)}), Porter stemming")
    print(f"naive reference   : {1 / naive_per_sentence:>12,.0f} sentences/s  (timed on {len(sample):,})")
    print(
        f"fast, 1 process   : {1 / serial_per_sentence:>12,.0f} sentences/s  ({naive_per_sentence / serial_per_sentence:.1f}x)"
    )
    print(
        f"fast, all cores   : {1 / fast_per_sentence:>12,.0f} sentences/s  ({naive_per_sentence / fast_per_sentence:.1f}x) on {len(texts):,}"
    )
    print("output: identical to the naive reference on the timed sample")


if __name__ == "__main__":
    main()
