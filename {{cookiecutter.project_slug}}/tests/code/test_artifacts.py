from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.module_name }}.artifacts import (
    StagingDir,
    atomic_write_json,
    atomic_write_text,
    sha256_file,
    sweep_stale,
    write_new_file,
)

pytestmark = pytest.mark.code

PACKAGE = StagingDir.__module__.split(".")[0]


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


def _dead_pid() -> int:
    """The id of a process that has exited."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_new_run_removes_what_killed_runs_left_and_only_that(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    dead, alive = _dead_pid(), os.getpid()
    leftovers = [f".staging-{dead}-x1", f".report-{dead}-x2"]
    for name in [*leftovers, f".staging-{alive}-mine"]:
        (artifacts / name / "plots").mkdir(parents=True)
    for name in (f".model.joblib.{dead}.ab_1.tmp", f".metrics.json.{alive}.cd2.tmp"):
        (artifacts / name).write_text("partial")
    (artifacts / "keep.tmp").write_text("not ours")
    with StagingDir(artifacts) as stage:
        remaining = sorted(p.name for p in artifacts.iterdir() if p != stage.path)
    assert remaining == sorted(
        [f".staging-{alive}-mine", f".metrics.json.{alive}.cd2.tmp", "keep.tmp"]
    )
    assert sweep_stale(tmp_path / "missing") == []


def test_replacing_a_file_keeps_its_permissions_and_its_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real.csv"
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "data.csv"
    link.symlink_to("real.csv")
    atomic_write_text(link, "new")
    assert link.is_symlink()
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "real.csv"]


def test_a_killed_training_leaves_nothing_the_next_run_keeps(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> None:
    """SIGKILL while training writes its artifacts; the next run cleans up after it."""
    params_file = make_project(base_params(), frame=make_frame(rows=200))
    artifacts = params_file.parent / "artifacts"
    command = [sys.executable, "-m", PACKAGE, "train", "--params", str(params_file)]
    training = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(artifacts.glob(".staging-*")) and training.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    training.send_signal(signal.SIGKILL)
    training.wait()
    assert list(artifacts.glob(".staging-*")), "killed while staging its artifacts"
    from {{ cookiecutter.module_name }}.cli import main

    assert main(["train", "--params", str(params_file)]) == 0
    assert sorted(p.name for p in artifacts.iterdir()) == [
        "diagnostics.json",
        "lineage.json",
        "metrics.json",
        "model.joblib",
        "plots",
    ]


UNSHARE = shutil.which("unshare")
MOUNT_NAMESPACE = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "-rm"]


def _can_mount() -> bool:
    if UNSHARE is None:
        return False
    probe = [*MOUNT_NAMESPACE, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not _can_mount(), reason="needs a mount namespace for a small tmpfs")
def test_a_full_disk_is_one_error_line_naming_the_path(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> None:
    """Training into a 64 KiB file system (a real full disk, in a private mount namespace)."""
    params_file = make_project(base_params(), frame=make_frame(rows=100))
    root = params_file.parent
    (root / "artifacts").mkdir()
    script = (
        "mount -t tmpfs -o size=64k tmpfs artifacts && "
        f"{sys.executable} -m {PACKAGE} train --params params.yaml; echo exit=$?; ls -A artifacts"
    )
    result = subprocess.run(
        [*MOUNT_NAMESPACE, "sh", "-c", script],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    (error,) = result.stderr.splitlines()  # where the disk fills up depends on the file sizes
    assert re.fullmatch(
        r"error: artifacts(/[\w.]+)?: no space left on device: free some space and run again", error
    )
    assert result.stdout.splitlines()[-1] == "exit=2", "nothing left behind either (ls -A)"
