"""Stage ``tokenize``: split cleaned text into tokens, build the vocabulary on the training split, and
write every split as id arrays; vocabulary size and OOV rates go to the metrics file."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from pipelines.common.allocation import cycle_collection_paused
from pipelines.common.io import atomic_directory, write_json
from pipelines.config import load_params
from pipelines.data.registry import SPLITS
from pipelines.stages import stage_cli
from pipelines.tasks import get_task

log = logging.getLogger("tokenize")


def main(argv: list[str] | None = None) -> None:
    stage_cli(
        "tokenize",
        __doc__,
        ["data", "out", "metrics"],
        lambda args: tokenize(args.params, args.data, args.out, args.metrics),
        argv,
    )


def tokenize(params_path: str, data: Path, out: Path, metrics_path: Path) -> None:
    params = load_params(params_path)
    frames = {split: pd.read_parquet(data / f"{split}.parquet") for split in SPLITS}
    with cycle_collection_paused():
        corpus = get_task(params).encode(frames, params)
    with atomic_directory(out) as staging:
        corpus.vocabulary.save(staging / "vocab.json")
        write_json(staging / "labels.json", corpus.class_names)
        for split, encoded in corpus.splits.items():
            encoded.save(staging / f"{split}.npz")
    splits = corpus.split_metrics()
    metrics = {
        "vocab_size": len(corpus.vocabulary),
        "num_classes": len(corpus.class_names),
        "splits": splits,
    }
    write_json(metrics_path, metrics)
    log.info(
        "vocabulary %d tokens, %d classes; OOV valid %.2f%% test %.2f%%",
        len(corpus.vocabulary),
        len(corpus.class_names),
        100 * splits["valid"]["oov_rate"],
        100 * splits["test"]["oov_rate"],
    )


if __name__ == "__main__":
    main()
