from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }}.artifacts import (
    StagingDir,
    atomic_write_json,
    atomic_write_text,
    sha256_file,
    write_new_file,
)

pytestmark = pytest.mark.code


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc" * 1_000_000)
    assert sha256_file(path) == hashlib.sha256(b"abc" * 1_000_000).hexdigest()


def test_atomic_writes_replace_and_leave_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.json"
    atomic_write_json(path, {"b": 1, "a": [1.5]})
    atomic_write_json(path, {"b": 2})
    assert json.loads(path.read_text(encoding="utf-8")) == {"b": 2}
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]
    assert path.stat().st_mode & 0o644 == 0o644


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = atomic_write_text(tmp_path / "out.txt", "old")
    with pytest.raises(TypeError):
        atomic_write_json(path, {"not json": object()})
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_write_new_file_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "data" / "x.csv"
    assert write_new_file(path, b"first") is True
    assert write_new_file(path, b"second") is False
    assert path.read_bytes() == b"first"
    assert [p.name for p in path.parent.iterdir()] == ["x.csv"]


def test_staging_commits_everything_or_nothing(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    with StagingDir(artifacts) as stage:
        atomic_write_text(stage.path / "a.txt", "1")
        atomic_write_text(stage.path / "plots" / "p.png", "old plot")
        stage.commit(order=["a.txt"])
    stage = StagingDir(artifacts)
    atomic_write_text(stage.path / "a.txt", "2")
    stage.discard()  # what leaving the `with` block through an exception does
    assert not stage.path.exists()
    assert (artifacts / "a.txt").read_text(encoding="utf-8") == "1"
    with StagingDir(artifacts) as stage:
        atomic_write_text(stage.path / "plots" / "q.png", "new plot")
        stage.commit()
    assert sorted(p.name for p in artifacts.iterdir()) == ["a.txt", "plots"]
    assert [p.name for p in (artifacts / "plots").iterdir()] == ["q.png"]
