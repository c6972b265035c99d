"""Stage ``clean``: lower-case, strip markup, tokenize, drop stopwords and Porter-stem every split, as ``clean.*``
says (a language model keeps its text as written unless ``language_model.clean`` is true)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from pipelines.common.io import atomic_directory
from pipelines.config import load_params
from pipelines.data.registry import SPLITS
from pipelines.stages import stage_cli
from pipelines.tasks import get_task
from pipelines.text.stopwords import read_stopwords

log = logging.getLogger("clean")


def main(argv: list[str] | None = None) -> None:
    stage_cli(
        "clean",
        __doc__,
        ["data", "stopwords", "out"],
        lambda args: clean(args.params, args.data, args.stopwords, args.out),
        argv,
    )


def clean(params_path: str, data: Path, stopwords_path: Path, out: Path) -> None:
    params = load_params(params_path)
    task, stopwords = get_task(params), read_stopwords(stopwords_path)
    with atomic_directory(out) as staging:
        for split in SPLITS:
            frame = pd.read_parquet(data / f"{split}.parquet")
            began = time.perf_counter()
            cleaned = frame.assign(text=task.clean_texts(frame["text"].tolist(), params, stopwords))
            cleaned.to_parquet(staging / f"{split}.parquet", index=False)
            empty = int((cleaned["text"] == "").sum())
            log.info(
                "%s: %d texts in %.2fs%s",
                split,
                len(frame),
                time.perf_counter() - began,
                f" ({empty} empty after cleaning)" if empty else "",
            )


if __name__ == "__main__":
    main()
