"""The committed dvc.lock and reports/*.json must come from the committed code and params: a stale lock makes
`dvc repro` on a fresh clone re-run stages nobody changed, and stale metrics mislead `dvc metrics diff`."""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.conftest import ROOT, run


def stale_entries(status: dict) -> list[str]:
    """What `dvc status --json` reports beyond outputs that a fresh clone simply has not produced yet."""
    stale = []
    for stage, changes in status.items():
        for change in changes:
            if change == "always changed" or not isinstance(change, dict):
                continue
            for kind, entries in change.items():
                for path, state in entries.items():
                    if isinstance(state, dict):  # params: {key: "modified" | "new" | "deleted"}
                        stale.extend(f"{stage}: {kind} {path}:{key} {value}" for key, value in state.items())
                    elif state not in ("deleted", "not in cache"):
                        stale.append(f"{stage}: {kind} {path} {state}")
    return stale


def test_the_committed_lock_and_reports_match_the_committed_code_and_params(tmp_path):
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp_path / name)
    run(["git", "init", "-q"], tmp_path)
    status = json.loads(run(["dvc", "status", "--json"], tmp_path).stdout or "{}")
    stale = stale_entries(status)
    assert not stale, "dvc.lock or reports/ are stale; run `make run` and commit them:\n" + "\n".join(stale)
