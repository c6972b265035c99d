"""Stage ``embed``: train Word2Vec or FastText on the training split's tokens and write a matrix aligned to
the vocabulary (``vectors.npy``); ``embed.method: none`` writes an empty matrix and trains nothing."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from pipelines.config import load_params
from pipelines.embeddings import aligned_matrix, nearest_neighbours, train_embeddings
from pipelines.io import atomic_path, write_json
from pipelines.stages import stage_cli
from pipelines.text.sequences import EncodedSplit
from pipelines.text.vocab import PAD_ID, Vocabulary

log = logging.getLogger("embed")


def main(argv: list[str] | None = None) -> None:
    stage_cli(
        "embed",
        __doc__,
        ["tokens", "out", "report"],
        lambda args: embed(args.params, args.tokens, args.out, args.report),
        argv,
    )


def embed(params_path: str, tokens: Path, out: Path, report_path: Path) -> None:
    params = load_params(params_path)
    options = params.embed
    if options.method == "none":
        _save_matrix(out, np.zeros((0, options.dim), dtype=np.float32))
        write_json(report_path, {"method": "none", "coverage": 0.0, "seconds": 0.0})
        log.info("embed.method is none: no embeddings trained")
        return
    vocabulary = Vocabulary.load(tokens / "vocab.json")
    train = EncodedSplit.load(tokens / "train.npz")
    sentences = [vocabulary.decode(row[row != PAD_ID]) for row in map(train.sequence, range(len(train)))]
    began = time.perf_counter()
    model = train_embeddings(sentences, options, params.seed)
    seconds = time.perf_counter() - began
    matrix, coverage = aligned_matrix(model.wv, vocabulary, options.dim, params.seed, options.method == "fasttext")
    _save_matrix(out, matrix)
    write_json(
        report_path,
        {
            "method": options.method,
            "algorithm": options.algorithm,
            "dim": options.dim,
            "trained_words": len(model.wv.key_to_index),
            "coverage": round(coverage, 6),
            "seconds": round(seconds, 3),
            "nearest_neighbours": nearest_neighbours(model.wv, vocabulary),
        },
    )
    log.info(
        "%s %s dim %d: %d words in %.1fs, vocabulary coverage %.1f%%",
        options.method,
        options.algorithm,
        options.dim,
        len(model.wv.key_to_index),
        seconds,
        100 * coverage,
    )


def _save_matrix(path: Path, matrix: np.ndarray) -> None:
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, matrix)


if __name__ == "__main__":
    main()
