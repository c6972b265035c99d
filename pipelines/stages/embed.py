"""Stage ``embed``: train Word2Vec or FastText on the cleaned training split plus the unlabelled
``embed.extra_text`` sentences (cleaned the same way, minus any that are validation or test texts), write a
matrix aligned to the vocabulary (``vectors.npy``) and score the vectors on gensim's word-similarity and
analogy sets. ``embed.method: none``, or a model that does not read vectors (``model.embedding_init: rand``),
writes an empty matrix and trains nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.common.io import atomic_path, write_json
from pipelines.config import Params, load_params
from pipelines.data.extra_text import read_extra_text
from pipelines.data.registry import SPLITS
from pipelines.embeddings.word_vectors import build_vectors, nearest_neighbours
from pipelines.stages import stage_cli
from pipelines.text.clean import CleanSettings
from pipelines.text.stopwords import read_stopwords
from pipelines.text.vocab import Vocabulary

log = logging.getLogger("embed")


def main(argv: list[str] | None = None) -> None:
    stage_cli("embed", __doc__, ["clean", "tokens", "extra_text", "stopwords", "out", "report"], embed, argv)


def skip_reason(params: Params) -> str | None:
    """Why no vectors are needed, or None. The outputs then depend on no embed param, so changing one never
    retrains a model that does not read vectors."""
    if params.embed.method == "none":
        return "embed.method is none"
    if params.model.embedding_init == "rand":
        return "model.embedding_init is rand, so no model reads the vectors"
    return None


def embed(args) -> None:
    params = load_params(args.params)
    options = params.embed
    skipped = skip_reason(params)
    if skipped:
        _save_matrix(args.out, np.zeros((0, 0), dtype=np.float32))
        write_json(args.report, {"method": "none", "skipped": skipped, "coverage": 0.0})
        log.info("no embeddings trained: %s", skipped)
        return
    vocabulary = Vocabulary.load(args.tokens / "vocab.json")
    frames = {split: pd.read_parquet(args.clean / f"{split}.parquet") for split in SPLITS}
    extra = read_extra_text(args.extra_text)
    settings = CleanSettings.from_params(params.clean, read_stopwords(args.stopwords))
    built = build_vectors(frames, extra, settings, params, vocabulary)
    report = built.report
    _save_matrix(args.out, built.matrix)
    report["nearest_neighbours"] = nearest_neighbours(built.keyed, vocabulary)
    write_json(args.report, report)
    log.info(
        "%s %s dim %d in %.1fs on %d sentences (%d extra, %d held-out texts dropped): %d words, "
        "vocabulary coverage %.1f%%; WordSim353 %.3f, SimLex-999 %.3f, analogies %.3f (%.0f%% answerable)",
        options.method,
        options.algorithm,
        options.dim,
        built.train_seconds,
        report["corpus_sentences"],
        report["extra_sentences"],
        report["extra_dropped_as_held_out"],
        report["trained_words"],
        100 * report["coverage"],
        report["wordsim353_spearman"],
        report["simlex999_spearman"],
        report["analogy_accuracy"],
        100 * report["analogy_coverage"],
    )


def _save_matrix(path: Path, matrix: np.ndarray) -> None:
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, matrix)


if __name__ == "__main__":
    main()
