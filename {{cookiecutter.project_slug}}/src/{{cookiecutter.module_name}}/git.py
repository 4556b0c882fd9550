"""Every git command the package runs, in one place: how git is called and how it failed.

Arguments reach git as a list (never through a shell); values from outside are checked by the
callers (tag, branch and ref formats) before they get here.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .errors import ProjectError

#: Seconds any one git command may take (a worktree checkout of a large repository included).
TIMEOUT = 300.0


def run(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run ``git ARGS`` in ``cwd``, output captured; a failing exit status is returned."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def ok(cwd: Path, *args: str) -> bool:
    """Whether ``git ARGS`` succeeds (a ref exists, a commit is an ancestor, ...)."""
    return run(cwd, *args).returncode == 0


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The last line git printed (stderr first), or its exit status: what a one-line error says."""
    lines = (proc.stderr or proc.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit {proc.returncode}"


def output(cwd: Path, *args: str, error: type[ProjectError] = ProjectError) -> str:
    """Run git and return its stripped stdout; raise ``error`` with git's last line on failure."""
    proc = run(cwd, *args)
    if proc.returncode != 0:
        raise error(f"git {args[0]} failed: {last_line(proc)}")
    return proc.stdout.strip()


def state(root: Path) -> dict[str, str | bool | None]:
    """Return ``{"commit": sha, "dirty": bool}``, or nulls outside a git repository."""
    try:
        commit = run(root, "rev-parse", "--verify", "HEAD", timeout=30)
        status = run(root, "status", "--porcelain", "--untracked-files=normal", timeout=30)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0 or status.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def dirty_paths(root: Path) -> list[str]:
    """Changed and untracked paths of the working tree (``git status --porcelain -z`` entries)."""
    proc = run(root, "status", "--porcelain", "-z")
    if proc.returncode != 0:
        raise ProjectError(f"git status failed: {last_line(proc)}")
    return [entry for entry in proc.stdout.split("\0") if entry]


def branch(root: Path) -> str | None:
    """The branch being built: the PR's head branch in CI, else git's current branch."""
    for name in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    try:
        proc = run(root, "rev-parse", "--abbrev-ref", "HEAD", timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    name = proc.stdout.strip()
    return name if proc.returncode == 0 and name and name != "HEAD" else None


def add(root: Path, paths: list[str]) -> None:
    """Stage ``paths``; raise ProjectError naming them if git refuses."""
    proc = run(root, "add", "--", *paths)
    if proc.returncode != 0:
        raise ProjectError(f"git add {' '.join(paths)}: {' '.join(proc.stderr.split())}")
