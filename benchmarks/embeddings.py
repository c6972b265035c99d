"""Word vectors side by side: word2vec (skip-gram, CBOW), FastText and GloVe trained by the embed stage's code
on the same corpus, with their scores, training seconds, and the test accuracy of a ``static`` TextCNN (Kim's
CNN on frozen vectors, so the vectors alone make the difference) on top of each.

    TEXTFLOW_MIRROR=../shared/mirror python -m benchmarks.embeddings --datasets trec sst2
    python -m benchmarks.embeddings --datasets demo --seeds 1 --epochs 2        # quick smoke run

The corpus is each dataset's training split (``-S embed.extra_text=mr`` adds unlabelled text); the splits,
cleaning and encodings are the quality benchmark's (benchmarks/quality.py), so a number here and there is
computed on the same rows. Records go to ``benchmarks/results/embeddings.json`` (replaced per dataset, vectors,
seed) and the table into ``benchmarks/RESULTS.md``, rendered with the quality records.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from benchmarks.quality import (
    MACHINE,
    MODELS,
    ROOT,
    merge_records,
    run_ours,
    run_overrides,
    with_overrides,
    workbenches,
)
from benchmarks.report import EMBEDDING_RECORDS, QUALITY_RECORDS, RESULTS_PAGE, render_results
from pipelines.config import load_params, parse_assignments
from pipelines.data.registry import DATASET_NAMES
from pipelines.stages import EXPECTED_ERRORS
from pipelines.training.device import configure_threads, resolve_device

log = logging.getLogger("embeddings")

VECTORS: dict[str, dict[str, Any]] = {
    "word2vec-skipgram": {"embed.method": "word2vec", "embed.algorithm": "skipgram"},
    "word2vec-cbow": {"embed.method": "word2vec", "embed.algorithm": "cbow"},
    "fasttext-skipgram": {"embed.method": "fasttext", "embed.algorithm": "skipgram"},
    "glove": {"embed.method": "glove"},
}
DOWNSTREAM = "textcnn-static"
SCORES = ("wordsim353_spearman", "simlex999_spearman", "analogy_accuracy", "analogy_coverage", "coverage")


def compare(params, vectors: list[str], seeds: list[int], base: dict[str, Any], device) -> list[dict[str, Any]]:
    records = []
    for partition, bench in workbenches(params, seeds, folds=10):
        if partition.fold not in (None, 0):
            continue  # a dataset without a test split: its first fold stands for it
        for name in vectors:
            overrides = run_overrides(params, partition, MODELS[DOWNSTREAM], VECTORS[name], base)
            run_params = with_overrides(params, overrides)
            built = bench.built_vectors(run_params)
            outcome = run_ours(bench, run_params, device)
            log.info(
                "%s seed %d %-18s trained in %6.1fs; WordSim353 %.3f, SimLex %.3f, analogies %.3f; "
                "static TextCNN test %.4f",
                params.dataset.name,
                partition.seed,
                name,
                built.train_seconds,
                built.report["wordsim353_spearman"],
                built.report["simlex999_spearman"],
                built.report["analogy_accuracy"],
                outcome["accuracy"],
            )
            records.append(
                {
                    "dataset": params.dataset.name,
                    "model": name,
                    "seed": partition.seed,
                    "fold": partition.fold,
                    "device": device.type,
                    "embed_seconds": round(built.train_seconds, 3),
                    "corpus_tokens": built.report["corpus_tokens"],
                    **{score: built.report[score] for score in SCORES},
                    "accuracy": outcome["accuracy"],
                    "valid_accuracy": outcome["valid_accuracy"],
                    "overrides": {k: v for k, v in overrides.items() if not k.endswith(".seed")},
                }
            )
    return records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--datasets", nargs="+", default=["trec", "sst2"], choices=DATASET_NAMES)
    parser.add_argument("--vectors", nargs="+", default=list(VECTORS), choices=list(VECTORS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, help="override train.epochs of the TextCNN (smoke runs)")
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="extra params override key=value")
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--records", type=Path, default=EMBEDDING_RECORDS)
    parser.add_argument("--quality-records", type=Path, default=QUALITY_RECORDS)
    parser.add_argument("--out", type=Path, default=RESULTS_PAGE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[embeddings] %(message)s", stream=sys.stderr, force=True)
    for noisy in ("gensim", "pipelines.training.loop", "embed", "quality"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    base = parse_assignments(args.overrides)
    if args.epochs:
        base["train.epochs"] = args.epochs
    configure_threads(0)
    device = resolve_device("auto")
    for name in args.datasets:
        try:
            records = compare(load_params(args.params, {"dataset.name": name}), args.vectors, args.seeds, base, device)
        except EXPECTED_ERRORS as error:
            parser.exit(2, f"{parser.prog}: error: {error}\n")
        merged = merge_records(args.records, records)
    quality = json.loads(args.quality_records.read_text()) if args.quality_records.exists() else []
    args.out.write_text(render_results(quality, MACHINE, merged))
    log.info("wrote %s (%d embedding records in %s)", args.out, len(merged), args.records)


if __name__ == "__main__":
    main()
