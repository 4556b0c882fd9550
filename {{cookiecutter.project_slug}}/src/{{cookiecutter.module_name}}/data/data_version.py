"""The data's version as its DVC pointer names it: status, lineage record, report lines.

Reading a pointer needs no DVC call: the version is the pointer's md5, the status a hash of the
file against it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import DataError

if TYPE_CHECKING:
    from ..records import DataInfo


#: A tracked file's pointer: ``<data file>.dvc`` next to it.
POINTER_SUFFIX = ".dvc"


State = Literal["untracked", "in-sync", "modified", "missing"]


@dataclass(frozen=True)
class DataVersion:
    """The version of a data file a pointer names.

    Attributes:
        path: the data file, relative to the project (as params.yaml names it).
        pointer: its pointer file, relative to the project (``<path>.dvc``).
        md5: the content hash the pointer names (DVC's md5 of the file's bytes).
        size: the file size in bytes the pointer names.
    """

    path: str
    pointer: str
    md5: str
    size: int | None


@dataclass(frozen=True)
class DataStatus:
    """Where a data file stands against its pointer.

    ``state``: ``untracked`` (no pointer), ``in-sync`` (the file has the pointer's version),
    ``modified`` (the file differs from it: track it again to version the change) or ``missing``
    (a pointer but no file: pull it).
    """

    path: str
    state: State
    version: DataVersion | None
    file_md5: str | None


def pointer_path(path: str | Path) -> str:
    """The pointer of a data file: ``<path>.dvc``."""
    return f"{Path(path).as_posix()}{POINTER_SUFFIX}"


def file_md5(path: Path) -> str:
    """DVC's content hash of a file: the md5 of its bytes."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pointer_version(root: Path, path: str | Path) -> DataVersion | None:
    """The version the pointer of ``path`` names; None when the file is not tracked.

    Raises:
        DataError: if the pointer exists but is not a DVC pointer of one file.
    """
    import yaml

    pointer = pointer_path(path)
    file = root / pointer
    if not file.is_file():
        return None
    try:
        document: dict[str, Any] = yaml.safe_load(file.read_text(encoding="utf-8")) or {}  # YAML
        outs = document["outs"]  # absent: KeyError, caught below as before
        (out,) = outs
        md5, size = str(out["md5"]), out.get("size")
    except (yaml.YAMLError, AttributeError, TypeError, ValueError, KeyError, UnicodeDecodeError):
        raise DataError(
            f"{pointer}: not a DVC pointer of one file (expected `outs:` with one md5); "
            "restore it from git or run `make track` again"
        ) from None
    return DataVersion(Path(path).as_posix(), pointer, md5, int(size) if size is not None else None)


def status(root: Path, path: str | Path) -> DataStatus:
    """Compare the data file with the version its pointer names (no remote is contacted)."""
    version = pointer_version(root, path)
    file = root / path
    md5 = file_md5(file) if file.is_file() else None
    if version is None:
        state: State = "untracked"
    elif md5 is None:
        state = "missing"
    else:
        state = "in-sync" if md5 == version.md5 else "modified"
    return DataStatus(Path(path).as_posix(), state, version, md5)


def lineage_record(root: Path, path: str | Path) -> dict[str, Any] | None:
    """What lineage records about the data's DVC version; None for an untracked file.

    ``md5`` is the version the pointer names, ``committed`` whether the file trained on is that
    version (False: the file was modified and not tracked again).
    """
    current = status(root, path)
    if current.version is None:
        return None
    return {
        "pointer": current.version.pointer,
        "md5": current.version.md5,
        "committed": current.state == "in-sync",
    }


def report_lines(data: DataInfo, base: DataInfo | None) -> list[str]:
    """Markdown lines on the data version for the PR report, from two lineage ``data`` records.

    Says whether the DVC version changed between the base and the PR and how many rows were
    added or removed (the rows of each run's data file, when both records have them).
    """
    version = data.dvc
    md5 = version.md5 if version else ""
    tracked = f"DVC version `{md5[:12]}` (`{version.pointer}`)" if version and md5 else "untracked"
    if version and md5 and not version.committed:
        tracked += ", **modified and not tracked again** (run `make track`)"
    if base is None:
        return [f"Data version: {tracked}."]
    base_md5 = base.dvc.md5 if base.dvc else ""
    if not md5 and not base_md5:
        return ["Data not versioned with DVC (no pointer on either side)."]
    if md5 == base_md5:
        return [f"Data version unchanged: {tracked}."]
    delta = ""
    if {"rows"} <= data.model_fields_set & base.model_fields_set:
        rows, base_rows = data.rows, base.rows
        delta = f" ({rows - base_rows:+d} rows: {base_rows} on the base, {rows} here)"
    before = f"`{base_md5[:12]}`" if base_md5 else "untracked"
    return [f"**Data version changed**{delta}: {before} on the base, {tracked} here."]
