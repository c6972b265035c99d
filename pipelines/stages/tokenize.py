"""Stage ``tokenize``: split cleaned text into tokens, build the vocabulary on the training split, and
write every split as id arrays; vocabulary size and OOV rates go to the metrics file."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from pipelines.config import load_params
from pipelines.data.registry import SPLITS
from pipelines.io import atomic_directory, write_json
from pipelines.stages import stage_cli
from pipelines.text.sequences import EncodedSplit
from pipelines.text.tokenizers import get_tokenizer, tokens_or_unknown
from pipelines.text.vocab import BOS, EOS, UNK_ID, Vocabulary

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
    began = time.perf_counter()
    options = load_params(params_path).tokenize
    tokenizer = get_tokenizer(options.method, options.bos_eos, options.max_length)
    frames = {split: pd.read_parquet(data / f"{split}.parquet") for split in SPLITS}
    tokens = {split: [tokens_or_unknown(tokenizer, text) for text in frame["text"]] for split, frame in frames.items()}
    vocabulary = Vocabulary.build(tokens["train"], options.min_freq, options.max_size)
    class_names = sorted(frames["train"]["label"].astype(str).unique())
    class_index = {name: position for position, name in enumerate(class_names)}
    metrics = {"vocab_size": len(vocabulary), "num_classes": len(class_names), "splits": {}}
    with atomic_directory(out) as staging:
        vocabulary.save(staging / "vocab.json")
        write_json(staging / "labels.json", class_names)
        for split, sequences in tokens.items():
            encoded = EncodedSplit.from_lists(
                [vocabulary.encode(sequence) for sequence in sequences],
                [class_index[label] for label in frames[split]["label"].astype(str)],
            )
            encoded.save(staging / f"{split}.npz")
            real = ~((encoded.ids == vocabulary.index[BOS]) | (encoded.ids == vocabulary.index[EOS]))
            oov_rate = float((encoded.ids[real] == UNK_ID).mean()) if real.any() else 0.0
            metrics["splits"][split] = {
                "rows": len(encoded),
                "tokens": int(len(encoded.ids)),
                "mean_length": round(float(encoded.lengths.mean()), 2),
                "oov_rate": round(oov_rate, 6),
            }
    metrics["seconds"] = round(time.perf_counter() - began, 3)
    write_json(metrics_path, metrics)
    log.info(
        "vocabulary %d tokens, %d classes; OOV valid %.2f%% test %.2f%%",
        len(vocabulary),
        len(class_names),
        100 * metrics["splits"]["valid"]["oov_rate"],
        100 * metrics["splits"]["test"]["oov_rate"],
    )


if __name__ == "__main__":
    main()
