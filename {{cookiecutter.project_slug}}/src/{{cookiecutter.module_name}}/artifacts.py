"""Atomic file writes, staging of a run's artifacts, hashing, and where files may be written.

Readers must never see a half-written file: every artifact is written to a temporary file in
the destination's directory and moved into place with :func:`os.replace`, which is atomic on
POSIX and Windows when source and destination are on the same file system. Replacing a file
keeps its permissions, and writing to a symlink replaces the file it points to (the link stays).

Temporary names carry the id of the process that writes them, so that the next run can tell the
leftovers of a killed run (whose process is gone) from the work of a run still going, and remove
them (:func:`sweep_stale`). A full disk is an :class:`~.errors.ArtifactError` naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import ArtifactError, PathError

_CHUNK = 1 << 20
#: Prefix of a run's staging directory: ``.staging-<pid>-<random>``.
STAGING_PREFIX = ".staging-"
#: Leftovers of a run, with the id of the process that made them: staging directories
#: (``.staging-<pid>-*``, the report's ``.report-<pid>-*``) and temporary files
#: (``.<name>.<pid>.<random>.tmp``).
_LEFTOVER = re.compile(r"^\.(?:staging|report)-(?P<dir>\d+)-|^\..+\.(?P<file>\d+)\.\w+\.tmp$")
#: errno values that mean "the disk (or the user's quota) is full".
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


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


def _disk_full(path: str | os.PathLike[str], exc: BaseException | None) -> ArtifactError | None:
    """The one-line error for a full disk (or quota) while writing ``path``; None for others.

    A file staged for a run is named where it was going (without the staging folder).
    """
    if not isinstance(exc, OSError) or exc.errno not in _DISK_FULL:
        return None
    final = Path(*(part for part in Path(path).parts if not part.startswith(STAGING_PREFIX)))
    return ArtifactError(
        f"{final}: {os.strerror(exc.errno).lower()}: free some space and run again"
    )


@contextlib.contextmanager
def disk_full_is_an_error(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn "no space left on device" (or quota exceeded) while writing ``path`` into one line."""
    try:
        yield
    except OSError as exc:
        error = _disk_full(path, exc)
        if error is None:
            raise
        raise error from None


def process_alive(pid: int) -> bool:
    """Return True if a process with this id exists (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove what killed runs left in ``directory``: staging folders and temporary files.

    Only names this module gives (see :data:`_LEFTOVER`) whose process is gone are removed; the
    work of a run still going is left alone. Returns the removed paths.
    """
    folder = Path(directory)
    removed = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in folder.iterdir():
            match = _LEFTOVER.match(entry.name)
            if not match or process_alive(int(match.group("dir") or match.group("file"))):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _replaced_file(path: Path) -> Path:
    """The file that writing ``path`` replaces: the target of a symlink (which stays), else path."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


@contextlib.contextmanager
def _temp_sibling(path: Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``, with permissions ``mode``.

    ``mode`` defaults to ``path``'s own permissions when it exists, else the usual ones for a
    new file. The temporary file is removed unless it was moved away.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    if mode is None:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()  # mkstemp creates 0600; a new file gets the usual ones
    tmp.chmod(mode)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, then os.replace).

    An existing file keeps its permissions; a symlink keeps pointing at the file it names, whose
    content is replaced.
    """
    target = Path(path)
    replaced = _replaced_file(target)
    with disk_full_is_an_error(target), _temp_sibling(replaced) as tmp:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(replaced)
    return target


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
    with disk_full_is_an_error(target), _temp_sibling(target) as tmp:
        joblib.dump(obj, tmp)
        tmp.replace(target)
    return target


def replace_directory(stage: Path, dest: Path) -> None:
    """Put the finished folder ``stage`` in place of ``dest``: readers see the old or the new one.

    Two renames, not one: a folder cannot be renamed over a non-empty folder. The old one is
    moved aside first and removed after, so an interruption leaves ``dest`` or ``.dest-old``.
    """
    old = dest.with_name(f".{dest.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.replace(old)
    stage.replace(dest)
    shutil.rmtree(old, ignore_errors=True)


def write_new_file(path: str | os.PathLike[str], data: bytes, mode: int | None = None) -> bool:
    """Create ``path`` with ``data`` atomically, never replacing an existing file.

    The data is written to a temporary sibling and hard-linked to the destination: ``os.link``
    fails if the destination exists, so a file created concurrently by a user is never
    overwritten. Where hard links are unsupported, an existence check plus ``os.replace`` is used.
    ``mode`` sets the file's permissions (default: the usual ones for a new file).

    Returns:
        True if the file was created, False if it already existed.
    """
    target = Path(path)
    if target.exists():
        return False
    with disk_full_is_an_error(target), _temp_sibling(target, mode) as tmp:
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
    previous run's artifacts stay untouched. Creating one first removes what killed runs left in
    the artifacts directory (:func:`sweep_stale`); a full disk inside the ``with`` block is an
    :class:`~.errors.ArtifactError` naming the artifacts directory.
    """

    def __init__(self, artifacts_dir: str | os.PathLike[str]) -> None:
        self.artifacts_dir = Path(artifacts_dir)
        with disk_full_is_an_error(self.artifacts_dir):
            self.artifacts_dir.mkdir(parents=True, exist_ok=True)
            sweep_stale(self.artifacts_dir)
            prefix = f"{STAGING_PREFIX}{os.getpid()}-"
            self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=self.artifacts_dir))

    def __enter__(self) -> StagingDir:
        return self

    def __exit__(self, _type: object, exc: BaseException | None, _traceback: object) -> None:
        self.discard()
        error = _disk_full(self.artifacts_dir, exc)
        if error is not None:
            raise error from None

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

    def remove(self, *names: str) -> None:
        """Remove ``names`` from the artifacts directory (before a commit that replaces them).

        For artifacts that belong together (a report and its page): once the old ones are gone,
        a run killed before its commit leaves neither, never one of each run.
        """
        for name in names:
            (self.artifacts_dir / name).unlink(missing_ok=True)

    def discard(self) -> None:
        """Delete the staging directory and whatever is still in it."""
        shutil.rmtree(self.path, ignore_errors=True)


def glob_base(pattern: str) -> str:
    """The leading folders of a glob pattern, before its first wildcard (the pattern if none)."""
    import glob

    parts = Path(pattern).parts
    wildcard = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    return str(Path(*parts[:wildcard])) if wildcard else "."


#: What a refused data path can do instead (data outside the project is an opt-in).
EXTERNAL_DATA_HINT = "data outside it needs data.external_dir in params.yaml"


def ensure_inside(
    path: str | os.PathLike[str],
    allowed: Sequence[str | os.PathLike[str]],
    what: str,
    hint: str = EXTERNAL_DATA_HINT,
) -> Path:
    """Return ``path`` resolved (symlinks followed); refuse one outside every ``allowed`` folder.

    Args:
        path: the path to check (it need not exist yet).
        allowed: the folders it may resolve into: the project, and an opted-in data folder.
        what: how the message names the path as the user gave it, e.g.
            ``params.yaml: data.path '../x.csv'``.
        hint: what to do instead, appended to the message.

    Raises:
        PathError: naming ``what`` and where the path resolves to.
    """
    resolved = Path(path).resolve()
    for folder in allowed:
        if resolved.is_relative_to(Path(folder).resolve()):
            return resolved
    raise PathError(
        f"{what} resolves to {resolved}, outside the project ({Path(allowed[0]).resolve()}); {hint}"
    )
