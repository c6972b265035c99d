"""Cleaning throughput: the clean stage's cleaner against the naive reference, same input, same output.

    python -m benchmarks.clean_throughput [--sentences 100000] [--workers 0]

Input: real SST-2 training sentences when the mirror is available (``TEXTFLOW_MIRROR``), repeated up to
``--sentences``, else the synthetic demo corpus. Both cleaners run with lower-casing, punctuation,
nltk-or-gensim stopwords and Porter stemming on. The naive reference is timed on a sample (it is slow
and has no state, so its rate does not depend on the input size); the fast cleaner is timed on all
sentences, starting from an empty cache each time. Outputs are compared on the sample.
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
    reference = [" ".join(tokens) for tokens in naive_clean(sample, True, True, words, True)]
    naive_rate = len(sample) / (time.perf_counter() - began)

    rates = {}
    for label, workers in [("fast, 1 process", 1), ("fast, all cores", args.workers)]:
        began = time.perf_counter()
        cleaned = clean_texts(texts, settings, workers=workers)
        rates[label] = len(texts) / (time.perf_counter() - began)
        assert cleaned[: len(sample)] == reference, f"{label}: output differs from the naive reference"

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"input: {len(texts):,} sentences from {source}; stopwords {stopword_source} ({len(words)}), Porter stemming")
    print(f"naive reference : {naive_rate:>10,.0f} sentences/s  (timed on the first {len(sample):,})")
    for label, rate in rates.items():
        print(f"{label:<16}: {rate:>10,.0f} sentences/s  {rate / naive_rate:5.1f}x  (all {len(texts):,}, cold cache)")
    print("output: identical to the naive reference on the sample")


if __name__ == "__main__":
    main()
