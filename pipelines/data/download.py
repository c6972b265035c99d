"""Fetching registry files: mirror mapping, retries, sha256 checks and safe archive extraction.

Downloads go through a content-checked cache (``TEXTFLOW_CACHE``, default ``.cache/downloads`` in the project
root, so every Airflow run's workspace shares it) so that switching datasets back and forth, re-running the
download stage because an unrelated parameter changed, or a new DAG run does not fetch the same bytes twice. A
cached file is used only if its sha256 still matches.

A file the registry cannot pin (AG News could not be fetched when it was written) is trusted on first use:
its digest is recorded in ``<cache>/trusted.json`` and every later use is checked against it, so a changed
upstream file fails loudly instead of silently becoming new data. Archives are extracted into a directory
named after their digest, so a new archive never reuses an old extraction.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from filelock import FileLock
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from pipelines.common.errors import PipelineError
from pipelines.common.io import atomic_path, read_json, write_json
from pipelines.common.progress import byte_bar
from pipelines.common.project import project_root
from pipelines.data.registry import RemoteFile

log = logging.getLogger(__name__)

MIRROR_ENV = "TEXTFLOW_MIRROR"
CACHE_ENV = "TEXTFLOW_CACHE"
CACHE_DIRECTORY = Path(".cache") / "downloads"
CHUNK = 1 << 20
TRUST_FILE = "trusted.json"


class DownloadError(PipelineError, RuntimeError):
    """A file could not be fetched, failed its checksum, or is an unsafe archive."""


def mirrored_url(url: str, mirror: str | None = None) -> str:
    """Map ``https://host/path`` to ``<mirror>/host/path``; the mirror is a directory or a base URL."""
    mirror = os.environ.get(MIRROR_ENV) if mirror is None else mirror
    if not mirror:
        return url
    parsed = urllib.parse.urlsplit(url)
    relative = f"{parsed.netloc}{parsed.path}"
    if "://" in mirror:
        return f"{mirror.rstrip('/')}/{relative}"
    return Path(mirror, relative).resolve().as_uri()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download_cache() -> Path:
    """``TEXTFLOW_CACHE``, else ``.cache/downloads`` in the project root (shared by every run workspace)."""
    return Path(os.environ.get(CACHE_ENV) or project_root() / CACHE_DIRECTORY)


def fetch(
    url: str,
    sha256: str | None,
    *,
    cache_dir: Path | None = None,
    timeout: float = 60.0,
    retries: int = 3,
) -> tuple[Path, str]:
    """Return (path in the download cache, its sha256), downloading through the mirror when needed.

    Network errors and 5xx answers are retried with exponential backoff; a 4xx answer or a checksum
    mismatch is not, because repeating it cannot help. Nothing is left in the cache unless it verified.
    """
    cache_dir = download_cache() if cache_dir is None else cache_dir
    parsed = urllib.parse.urlsplit(url)
    target = cache_dir / parsed.netloc / parsed.path.lstrip("/")
    trusted = TrustStore(cache_dir / TRUST_FILE)
    pinned = sha256 or trusted.get(url)
    if target.exists() and pinned and sha256_of(target) == pinned:
        return target, pinned
    source = mirrored_url(url)
    try:
        for attempt in Retrying(
            stop=stop_after_attempt(retries),
            wait=wait_exponential(multiplier=1, max=30),
            retry=retry_if_exception(_worth_retrying),
            before_sleep=lambda state: log.warning(
                "download of %s failed (attempt %d/%d); retrying", source, state.attempt_number, retries
            ),
            sleep=lambda seconds: time.sleep(seconds),
            reraise=True,
        ):
            with attempt:
                actual = _download(source, target, timeout)
    except urllib.error.HTTPError as error:
        raise DownloadError(f"{source}: HTTP {error.code} {error.reason}; check the URL or {MIRROR_ENV}") from None
    except OSError as error:  # URLError, TimeoutError and ConnectionError are OSErrors
        raise DownloadError(
            f"{source}: could not download after {retries} attempts ({getattr(error, 'reason', error)}); check the "
            f"network, or set {MIRROR_ENV} to a directory or URL that mirrors <host>/<path>"
        ) from None
    if pinned is None:
        pinned = trusted.record(url, actual)
        if pinned == actual:
            log.warning("%s has no pinned sha256 in the registry; recorded %s (trust on first use)", url, actual)
    if actual != pinned:
        target.unlink(missing_ok=True)
        where = (
            "the registry entry in pipelines/data/registry.py"
            if sha256
            else f"the digest recorded on first use in {trusted.path} (delete that entry to trust the new file)"
        )
        raise DownloadError(
            f"{source}: sha256 mismatch (expected {pinned}, got {actual}); the file is corrupted or was changed "
            f"upstream. Nothing was kept; check the mirror copy or {where}"
        )
    return target, actual


def _worth_retrying(error: BaseException) -> bool:
    """Network errors and 5xx answers may pass; a 4xx answer (or a missing mirror file) will not."""
    if isinstance(error, urllib.error.HTTPError):
        return error.code >= 500
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, FileNotFoundError):
        return False
    return isinstance(error, OSError)


class TrustStore:
    """URL -> sha256 recorded on first download of a file the registry does not pin. Several downloads may
    record at once (concurrent DAG runs share the cache), so a record is a locked read-modify-write; the first
    digest recorded for a URL stays."""

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> dict[str, str]:
        return read_json(self.path) if self.path.exists() else {}

    def get(self, url: str) -> str | None:
        return self._read().get(url)

    def record(self, url: str, digest: str) -> str:
        """Record ``digest`` unless another download recorded one first; the digest now trusted."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(self.path.with_name(self.path.name + ".lock")):
            trusted = self._read()
            if url not in trusted:
                write_json(self.path, trusted | {url: digest})
                return digest
            return trusted[url]


def _download(source: str, target: Path, timeout: float) -> str:
    """Stream ``source`` to ``target`` atomically, hashing on the way; return the sha256."""
    digest = hashlib.sha256()
    request = urllib.request.Request(source, headers={"User-Agent": "textflow"})
    with urllib.request.urlopen(request, timeout=timeout) as response, atomic_path(target) as temporary:
        expected_size = response.headers.get("Content-Length")
        received = 0
        bar = byte_bar(int(expected_size) if expected_size else None, target.name)
        with open(temporary, "wb") as handle, bar:
            for block in iter(lambda: response.read(CHUNK), b""):
                handle.write(block)
                digest.update(block)
                received += len(block)
                bar.update(len(block))
        if expected_size is not None and received != int(expected_size):
            raise ConnectionError(f"truncated transfer: {received} of {expected_size} bytes")
    return digest.hexdigest()


def extract_archive(archive: Path, target_dir: Path) -> None:
    """Extract a zip or tar(.gz) into ``target_dir``, refusing members that would land outside it."""
    target_dir.mkdir(parents=True, exist_ok=True)
    root = target_dir.resolve()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for name in bundle.namelist():
                _check_member(archive, name, root)
            bundle.extractall(target_dir)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as bundle:
            for member in bundle.getmembers():
                _check_member(archive, member.name, root)
                if member.issym() or member.islnk():
                    raise DownloadError(f"{archive}: refusing link member {member.name!r}")
            bundle.extractall(target_dir, filter="data")
    else:
        raise DownloadError(f"{archive}: not a zip or tar archive")


def _check_member(archive: Path, name: str, root: Path) -> None:
    pure = PurePosixPath(name)
    destination = (root / name).resolve()
    if pure.is_absolute() or ".." in pure.parts or not destination.is_relative_to(root):
        raise DownloadError(f"{archive}: refusing member {name!r}, which would extract outside {root}")


def materialize(remote: RemoteFile, destination: Path, *, cache_dir: Path | None = None) -> str:
    """Place the registry file (or its archive member) at ``destination``; return the verified sha256."""
    path, digest = fetch(remote.url, remote.sha256, cache_dir=cache_dir)
    if remote.member is None:
        with atomic_path(destination) as temporary:
            shutil.copyfile(path, temporary)
        return digest
    unpacked = path.with_name(f"{path.name}.{digest[:16]}.d")
    member = unpacked / remote.member
    if not member.exists():
        # a private staging directory: two downloads sharing the cache may extract the same archive at once
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            extract_archive(path, staging)
            try:
                os.replace(staging, unpacked)
            except OSError:  # the directory exists: another download's extraction, or a broken old one
                if not member.exists():
                    shutil.rmtree(unpacked)
                    os.replace(staging, unpacked)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if not member.exists():
        raise DownloadError(f"{remote.url}: archive has no member {remote.member!r}")
    with atomic_path(destination) as temporary:
        shutil.copyfile(member, temporary)
    return digest
