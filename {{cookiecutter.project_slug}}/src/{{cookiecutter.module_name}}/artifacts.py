"""Atomic file writes, staging of a run's artifacts, and hashing.

Readers must never see a half-written file: every artifact is written to a temporary file in
the destination's directory and moved into place with :func:`os.replace`, which is atomic on
POSIX and Windows when source and destination are on the same file system.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from .errors import ArtifactError

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def display_path(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """Return ``path`` as the user wrote it: relative to the project ``root`` when inside it."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def read_json(path: str | os.PathLike[str], hint: str = "") -> Any:  # noqa: ANN401 - any JSON
    """Return the JSON document at ``path``; raise ArtifactError when it is missing or unreadable.

    Args:
        path: the artifact to read.
        hint: what to do when it is missing, e.g. "run `make train` first".
    """
    target = Path(path)
    if not target.is_file():
        raise ArtifactError(f"{target} not found" + (f": {hint}" if hint else ""))
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{target} is not readable JSON ({exc})") from exc


def _umask() -> int:
    """Return the process umask (reading it requires setting it; it is restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _temp_sibling(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; remove it unless it was moved away."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, then os.replace)."""
    target = Path(path)
    with _temp_sibling(target) as tmp:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(target)
    return target


@contextlib.contextmanager
def atomic_text_file(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """Yield a UTF-8 text handle whose content replaces ``path`` atomically on success.

    For writers that need a real file object (e.g. deepchecks' ``save_as_html``); if the block
    raises, ``path`` is left untouched.
    """
    target = Path(path)
    with _temp_sibling(target) as tmp:
        with tmp.open("w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(target)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:  # noqa: ANN401 - any JSON value
    """Write ``obj`` as indented, key-sorted JSON (stable diffs) to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def atomic_dump_joblib(path: str | os.PathLike[str], obj: object) -> Path:
    """Pickle ``obj`` with joblib to ``path`` atomically."""
    import joblib

    target = Path(path)
    with _temp_sibling(target) as tmp:
        joblib.dump(obj, tmp)
        tmp.replace(target)
    return target


def write_new_file(path: str | os.PathLike[str], data: bytes) -> bool:
    """Create ``path`` with ``data`` atomically, never replacing an existing file.

    The data is written to a temporary sibling and hard-linked to the destination: ``os.link``
    fails if the destination exists, so a file created concurrently by a user is never
    overwritten. Where hard links are unsupported, an existence check plus ``os.replace`` is used.

    Returns:
        True if the file was created, False if it already existed.
    """
    target = Path(path)
    if target.exists():
        return False
    with _temp_sibling(target) as tmp:
        tmp.write_bytes(data)
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        except OSError:  # file system without hard links
            if target.exists():
                return False
            tmp.replace(target)
    return True


class StagingDir:
    """A temporary directory under ``artifacts/`` that holds every artifact of one run.

    Stages write into :attr:`path`; :meth:`commit` moves each top-level entry into the artifacts
    directory with ``os.replace`` at the very end. If the run fails before that, :meth:`discard`
    (or leaving the ``with`` block through an exception) deletes the staging directory and the
    previous run's artifacts stay untouched.
    """

    def __init__(self, artifacts_dir: str | os.PathLike[str]) -> None:
        self.artifacts_dir = Path(artifacts_dir)
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.artifacts_dir))

    def __enter__(self) -> StagingDir:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()

    def commit(self, order: list[str] | None = None) -> list[Path]:
        """Move staged entries into the artifacts directory; return their final paths.

        Args:
            order: names to move last, in this order (e.g. the lineage record, which marks a
                complete run). Other entries are moved first, sorted by name.
        """
        last = order or []
        names = sorted(p.name for p in self.path.iterdir() if p.name not in last)
        names += [name for name in last if (self.path / name).exists()]
        moved = []
        for name in names:
            source, target = self.path / name, self.artifacts_dir / name
            if source.is_dir() and target.exists():
                # Directories cannot replace a non-empty directory: swap via a sibling name.
                old = self.path / f".old-{name}"
                target.replace(old)
            source.replace(target)
            moved.append(target)
        self.discard()
        return moved

    def discard(self) -> None:
        """Delete the staging directory and whatever is still in it."""
        shutil.rmtree(self.path, ignore_errors=True)
