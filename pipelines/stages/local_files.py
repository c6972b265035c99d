"""Stage ``local_files``: the sha256 of every file that ``dataset.local.*`` names (nothing for registry
datasets), written to ``--out``.

DVC cannot declare a dependency whose path is a param that may be null, so without this stage an edited
local file was invisible: ``dvc repro`` said "didn't change", or the run-cache restored the old data. This
stage runs on every repro (``always_changed``), costs one read of each file, and its output is the download
stage's dependency: a changed file changes a digest and download runs again; an unchanged one leaves the
output byte-identical and nothing downstream runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.common.io import write_json
from pipelines.config import load_params
from pipelines.data.download import sha256_of
from pipelines.data.local_paths import local_files
from pipelines.stages import stage_cli

log = logging.getLogger("local_files")


def main(argv: list[str] | None = None) -> None:
    stage_cli("local_files", __doc__, ["out"], lambda args: fingerprint(args.params, args.out), argv)


def fingerprint(params_path: str, out: Path) -> None:
    params = load_params(params_path)
    digests = {
        split: {"path": given, "sha256": sha256_of(path)} for split, (given, path) in local_files(params).items()
    }
    write_json(out, {"dataset": params.dataset.name, "files": digests})
    if digests:
        log.info("; ".join(f"{split} {entry['sha256'][:12]}" for split, entry in digests.items()))


if __name__ == "__main__":
    main()
