"""Shared fixtures: the project root, the shared dataset mirror, and small generated corpora."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("TEXTFLOW_MIRROR", ROOT.parent / "shared" / "mirror"))


@pytest.fixture
def mirror(monkeypatch, tmp_path) -> Path:
    """The shared mirror of public datasets, with downloads cached in a per-test directory."""
    if not MIRROR.is_dir():
        pytest.skip(f"dataset mirror not found at {MIRROR}; set TEXTFLOW_MIRROR")
    monkeypatch.setenv("TEXTFLOW_MIRROR", str(MIRROR))
    monkeypatch.setenv("TEXTFLOW_CACHE", str(tmp_path / "download-cache"))
    return MIRROR


@pytest.fixture
def isolated_cache(monkeypatch, tmp_path) -> Path:
    cache = tmp_path / "download-cache"
    monkeypatch.setenv("TEXTFLOW_CACHE", str(cache))
    return cache
