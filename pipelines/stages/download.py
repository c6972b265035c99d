"""Stage ``download``: put the dataset's raw files in ``--out`` (+ manifest), the stopword list in
``--stopwords``, and the unlabelled sentences of ``embed.extra_text`` (one per line, empty when ``none``) in
``--extra-text`` (after a header line). The demo corpus is generated here; registry files come through the checked cache."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from pipelines.common.io import atomic_directory, write_text
from pipelines.config import load_params
from pipelines.data.extra_text import extra_text_file
from pipelines.data.sources import unlabelled_sentences, write_raw_files
from pipelines.stages import stage_cli
from pipelines.text.stopwords import stopword_list

log = logging.getLogger("download")


def main(argv: list[str] | None = None) -> None:
    stage_cli(
        "download",
        __doc__,
        ["out", "stopwords", "extra_text"],
        lambda args: download(args.params, args.out, args.stopwords, args.extra_text),
        argv,
    )


def download(params_path: str, out: Path, stopwords_path: Path, extra_text_path: Path) -> None:
    params = load_params(params_path)
    with atomic_directory(out) as staging:
        manifest = write_raw_files(params, staging)
    words = stopword_list(params.clean.stopwords)
    header = f"# stopwords: {params.clean.stopwords} ({len(words)} words)\n"
    write_text(stopwords_path, header + "".join(f"{word}\n" for word in words))
    extra = []
    if params.embed.extra_text != "none":
        with tempfile.TemporaryDirectory(prefix="textflow-extra-") as directory:
            extra = unlabelled_sentences(params.embed.extra_text, params, Path(directory))
    write_text(extra_text_path, extra_text_file(params.embed.extra_text, extra))
    log.info(
        "%s: %s; %d stopwords (%s); %d unlabelled sentences for embeddings (%s)",
        manifest["dataset"],
        ", ".join(manifest["files"]),
        len(words),
        params.clean.stopwords,
        len(extra),
        params.embed.extra_text,
    )


if __name__ == "__main__":
    main()
