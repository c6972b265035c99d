import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from pipelines.data.download import DownloadError, extract_archive, fetch, materialize, mirrored_url
from pipelines.data.registry import DATASETS, NLTK_STOPWORDS, RemoteFile
from pipelines.text.stopwords import stopword_list

URL = "https://example.org/data/file.txt"


def _mirror_with(tmp_path: Path, content: bytes) -> Path:
    mirror = tmp_path / "mirror"
    (mirror / "example.org" / "data").mkdir(parents=True)
    (mirror / "example.org" / "data" / "file.txt").write_bytes(content)
    return mirror


def test_mirror_maps_host_and_path_for_directories_and_urls(tmp_path):
    assert mirrored_url(URL, "http://127.0.0.1:9/m/") == "http://127.0.0.1:9/m/example.org/data/file.txt"
    assert mirrored_url(URL, str(tmp_path)) == (tmp_path / "example.org/data/file.txt").as_uri()
    assert mirrored_url(URL, "") == URL


def test_fetch_verifies_and_caches(tmp_path, monkeypatch):
    content = b"0 hello world\n"
    monkeypatch.setenv("TEXTFLOW_MIRROR", str(_mirror_with(tmp_path, content)))
    digest = hashlib.sha256(content).hexdigest()
    path, actual = fetch(URL, digest, cache_dir=tmp_path / "cache")
    assert actual == digest and path.read_bytes() == content
    (tmp_path / "mirror" / "example.org" / "data" / "file.txt").unlink()
    assert fetch(URL, digest, cache_dir=tmp_path / "cache")[0] == path  # served from the verified cache


def test_corrupted_download_fails_clearly_and_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTFLOW_MIRROR", str(_mirror_with(tmp_path, b"tampered bytes")))
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="sha256 mismatch .* Nothing was kept"):
        fetch(URL, "0" * 64, cache_dir=cache)
    assert not [p for p in cache.rglob("*") if p.is_file()]


def test_unreachable_source_is_retried_then_reported(tmp_path, monkeypatch):
    monkeypatch.setattr("pipelines.data.download.time.sleep", lambda seconds: None)
    monkeypatch.setenv("TEXTFLOW_MIRROR", "http://127.0.0.1:9")  # discard port: connection refused
    with pytest.raises(DownloadError, match="could not download after 2 attempts"):
        fetch(URL, "0" * 64, cache_dir=tmp_path / "cache", timeout=2, retries=2)


def test_missing_mirror_file_is_not_retried(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTFLOW_MIRROR", str(tmp_path / "empty-mirror"))
    with pytest.raises(DownloadError, match="check the network, or set TEXTFLOW_MIRROR"):
        fetch(URL, "0" * 64, cache_dir=tmp_path / "cache", retries=1)


def test_zip_member_escaping_target_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("ok.txt", "fine")
        bundle.writestr("../escaped.txt", "bad")
    with pytest.raises(DownloadError, match="would extract outside"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()


@pytest.mark.parametrize("name", ["/etc/evil", "a/../../evil"])
def test_tar_member_escaping_target_is_refused(tmp_path, name):
    archive = tmp_path / "evil.tgz"
    with tarfile.open(archive, "w:gz") as bundle:
        info = tarfile.TarInfo(name)
        info.size = 3
        bundle.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(DownloadError, match="refusing member"):
        extract_archive(archive, tmp_path / "out")


def test_archive_member_is_materialized(tmp_path, monkeypatch):
    archive_bytes = io.BytesIO()
    with tarfile.open(fileobj=archive_bytes, mode="w:gz") as bundle:
        data = b'"1","Title","Body"\n'
        info = tarfile.TarInfo("ag_news_csv/train.csv")
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))
    mirror = tmp_path / "mirror" / "example.org"
    mirror.mkdir(parents=True)
    (mirror / "news.tgz").write_bytes(archive_bytes.getvalue())
    monkeypatch.setenv("TEXTFLOW_MIRROR", str(tmp_path / "mirror"))
    remote = RemoteFile(
        "https://example.org/news.tgz",
        hashlib.sha256(archive_bytes.getvalue()).hexdigest(),
        member="ag_news_csv/train.csv",
    )
    digest = materialize(remote, tmp_path / "train.csv", cache_dir=tmp_path / "cache")
    assert digest == remote.sha256
    assert (tmp_path / "train.csv").read_bytes() == b'"1","Title","Body"\n'


def test_every_registry_file_in_the_mirror_matches_its_checksum(mirror, tmp_path):
    for dataset in DATASETS.values():
        for remote in dataset.splits.values():
            if remote.sha256 is None:
                continue
            path, digest = fetch(remote.url, remote.sha256, cache_dir=tmp_path / "cache")
            assert digest == remote.sha256, remote.url


def test_nltk_stopwords_arrive_through_the_download_mechanism(mirror):
    words = stopword_list("nltk")
    assert {"the", "and", "what", "not"} <= set(words)
    assert len(words) > 150
    assert NLTK_STOPWORDS.member == "stopwords/english"


def _ag_news_archive(rows: bytes) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as bundle:
        for member in ("ag_news_csv/train.csv", "ag_news_csv/test.csv"):
            info = tarfile.TarInfo(member)
            info.size = len(rows)
            bundle.addfile(info, io.BytesIO(rows))
    return archive.getvalue()


def test_an_unpinned_file_is_trusted_on_first_use_then_checked_and_not_fetched_again(tmp_path, monkeypatch):
    """AG News has no pinned digest: the first download records one; later runs reuse the verified copy
    without fetching, and a changed upstream file is refused instead of silently becoming new data."""
    mirror = tmp_path / "mirror" / "example.org"
    mirror.mkdir(parents=True)
    (mirror / "news.tgz").write_bytes(_ag_news_archive(b'"1","Old","Text"\n'))
    monkeypatch.setenv("TEXTFLOW_MIRROR", str(tmp_path / "mirror"))
    remote = RemoteFile("https://example.org/news.tgz", None, member="ag_news_csv/train.csv")
    cache = tmp_path / "cache"
    first = materialize(remote, tmp_path / "first.csv", cache_dir=cache)
    assert json.loads((cache / "trusted.json").read_text()) == {remote.url: first}

    (mirror / "news.tgz").unlink()
    assert materialize(remote, tmp_path / "again.csv", cache_dir=cache) == first, "served from the checked cache"

    (mirror / "news.tgz").write_bytes(_ag_news_archive(b'"1","New","Text"\n'))
    cached = next(cache.rglob("news.tgz"))
    cached.write_bytes(b"a torn download")
    with pytest.raises(DownloadError, match="recorded on first use"):
        materialize(remote, tmp_path / "changed.csv", cache_dir=cache)
    assert not cached.exists() and not (tmp_path / "changed.csv").exists()


def test_a_new_archive_is_never_read_through_an_old_extraction(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror" / "example.org"
    mirror.mkdir(parents=True)
    monkeypatch.setenv("TEXTFLOW_MIRROR", str(tmp_path / "mirror"))
    contents = []
    for text in (b'"1","First","Text"\n', b'"2","Second","Text"\n'):
        archive = _ag_news_archive(text)
        (mirror / "news.tgz").write_bytes(archive)
        remote = RemoteFile(
            "https://example.org/news.tgz", hashlib.sha256(archive).hexdigest(), member="ag_news_csv/train.csv"
        )
        materialize(remote, tmp_path / "train.csv", cache_dir=tmp_path / "cache")
        contents.append((tmp_path / "train.csv").read_bytes())
    assert contents == [b'"1","First","Text"\n', b'"2","Second","Text"\n']


def test_every_run_workspace_shares_the_projects_download_cache_and_trust(tmp_path, monkeypatch):
    """Airflow runs each DAG run in its own workspace; the cache (and what was trusted on first use) belongs to
    the project, so a second run neither downloads again nor trusts a changed file afresh."""
    project, first_run, second_run = tmp_path / "project", tmp_path / "runs" / "a", tmp_path / "runs" / "b"
    for directory in (project, first_run, second_run):
        directory.mkdir(parents=True)
    mirror = tmp_path / "mirror" / "example.org"
    mirror.mkdir(parents=True)
    (mirror / "news.tgz").write_bytes(_ag_news_archive(b'"1","Old","Text"\n'))
    monkeypatch.setenv("TEXTFLOW_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.delenv("TEXTFLOW_CACHE", raising=False)
    monkeypatch.setenv("TEXTFLOW_PROJECT_ROOT", str(project))
    remote = RemoteFile("https://example.org/news.tgz", None, member="ag_news_csv/train.csv")

    monkeypatch.chdir(first_run)
    first = materialize(remote, first_run / "train.csv")
    assert (project / ".cache" / "downloads" / "trusted.json").exists() and not (first_run / ".cache").exists()

    (mirror / "news.tgz").write_bytes(_ag_news_archive(b'"1","Changed","Text"\n'))
    monkeypatch.chdir(second_run)
    assert materialize(remote, second_run / "train.csv") == first, "the verified copy, not the changed upstream"
    next((project / ".cache" / "downloads").rglob("news.tgz")).unlink()
    with pytest.raises(DownloadError, match="recorded on first use"):
        materialize(remote, second_run / "again.csv")


def test_two_downloads_extracting_one_archive_at_once_both_succeed(tmp_path, monkeypatch):
    from tests.conftest import run_at_once

    mirror = tmp_path / "mirror" / "example.org"
    mirror.mkdir(parents=True)
    archive = _ag_news_archive(b'"3","Both","Text"\n' * 2000)
    (mirror / "news.tgz").write_bytes(archive)
    monkeypatch.setenv("TEXTFLOW_MIRROR", str(tmp_path / "mirror"))
    remote = RemoteFile("https://example.org/news.tgz", hashlib.sha256(archive).hexdigest(), "ag_news_csv/train.csv")
    materialize(RemoteFile(remote.url, remote.sha256), tmp_path / "whole.tgz", cache_dir=tmp_path / "cache")
    errors = run_at_once(
        lambda index: materialize(remote, tmp_path / f"train-{index}.csv", cache_dir=tmp_path / "cache"), 4
    )
    assert not errors, errors
    assert all((tmp_path / f"train-{index}.csv").read_bytes() == b'"3","Both","Text"\n' * 2000 for index in range(4))
