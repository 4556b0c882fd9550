"""Folding a labelled batch into the training data, with a ledger, a backup and a way back."""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import git
from ..artifacts import (
    atomic_write_bytes,
    atomic_write_json,
    sha256_file,
    sweep_stale,
    write_new_file,
)
from ..errors import DataError
from .batch import load_batch, resolve_source
from .monitor import now

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Params


#: The ledger of the batches folded into a training data file: ``<data file>.batches.json``.
LEDGER_SUFFIX = ".batches.json"


@dataclass(frozen=True)
class DataUpdate:
    """A batch folded into the training data (or found there already), until the gates decide.

    Paths are as params.yaml names them (relative to the project); ``backup`` holds the data's
    previous content, for :func:`restore_training_data`, until :func:`finish_update`.
    """

    root: Path
    path: str
    ledger: str
    backup: str
    mode: str
    source: str
    batch_sha256: str
    before_sha256: str
    after_sha256: str
    rows_before: int
    rows_after: int
    added_rows: int
    already_folded: bool
    filled_columns: list[str] = field(default_factory=list)
    dropped_columns: list[str] = field(default_factory=list)


def ledger_path(data_path: str) -> str:
    """The ledger of a training data file: the batches folded into it (:data:`LEDGER_SUFFIX`)."""
    return data_path + LEDGER_SUFFIX


def backup_path(data_path: str, before_sha256: str) -> str:
    """Where the data's content before a batch is kept while the gates decide (hidden, by hash)."""
    path = Path(data_path)
    return str(path.with_name(f".{path.name}.{before_sha256[:16]}.before"))


def read_ledger(root: Path, data_path: str) -> list[dict[str, Any]]:
    """The batches folded into ``data_path``, oldest first (empty without a ledger)."""
    from ..artifacts import read_json

    path = root / ledger_path(data_path)
    if not path.is_file():
        return []
    batches = read_json(path).get("batches")
    if not isinstance(batches, list):
        raise DataError(f"{ledger_path(data_path)}: no 'batches' list (the ledger is damaged)")
    return batches


def _write_ledger(root: Path, data_path: str, batches: list[dict[str, Any]]) -> None:
    atomic_write_json(root / ledger_path(data_path), {"data": data_path, "batches": batches})


def update_training_data(
    params: Params, root: Path, current: str | None = None, mode: str | None = None
) -> DataUpdate:
    """Fold a labelled batch into the training data (append it, or replace the data), once.

    The batch is validated like the training data, reordered to the training file's columns
    (extra columns are dropped, missing non-feature columns are left empty) and the combined
    data is validated again before the file is replaced. In append mode the existing bytes are
    kept as they are and the batch's rows are added after them (a reviewable diff).

    The order makes a kill harmless: the data's current content is backed up, the batch's
    content hash (of the rows as appended) goes into the ledger with the data's hash before and
    after, and only then is the data replaced (atomically, keeping its permissions and
    symlink). A batch whose hash the ledger already holds is not added again, unless the data
    still has the content from before it (the kill came before the data was replaced).

    Raises:
        DataError: for an unlabelled or invalid batch; the training file is then unchanged.
    """
    from ..config import data_folders
    from ..data import load_dataset, read_csv, validate_frame

    mode = mode or params.monitor.retrain
    source = current or params.monitor.source
    resolve_source(source, root, data_folders(params, root))  # refuse a bad path before reading
    reference = load_dataset(params, root)
    sweep_stale(reference.path.parent)  # temporary files of a killed update
    batch = load_batch(source, params, reference, root, min_rows=1)
    if not batch.labelled:
        raise DataError(
            f"{source}: no target column {params.data.target!r}; retraining needs labelled data "
            "(add the labels, or run `make monitor` for a drift check only)"
        )
    data_path = params.data.path
    before_bytes = reference.path.read_bytes()
    original = read_csv(reference.path, data_path)
    columns = [str(c) for c in original.columns]
    rows = batch.raw.reindex(columns=columns)
    body = rows.to_csv(index=False, header=False, lineterminator="\n")
    batch_sha256 = hashlib.sha256(body.encode("utf-8")).hexdigest()
    combined = rows if mode == "replace" else _concat(original, rows)
    validate_frame(combined, params, f"{data_path} with {source}")
    if mode == "replace":
        after_bytes = rows.to_csv(index=False, lineterminator="\n").encode("utf-8")
    else:
        separator = b"" if before_bytes.endswith(b"\n") else b"\n"
        after_bytes = before_bytes + separator + body.encode("utf-8")
    ledger = read_ledger(root, data_path)
    entry = next((e for e in ledger if e.get("batch_sha256") == batch_sha256), None)
    # Folded in already unless the data still has the content from before the batch.
    folded = entry is not None and reference.sha256 != entry.get("before_sha256")
    update = DataUpdate(
        root=root,
        path=data_path,
        ledger=ledger_path(data_path),
        backup=backup_path(data_path, (entry or {}).get("before_sha256") or reference.sha256),
        mode=mode,
        source=source,
        batch_sha256=batch_sha256,
        before_sha256=(entry or {}).get("before_sha256") or reference.sha256,
        after_sha256=(entry or {}).get("after_sha256") or hashlib.sha256(after_bytes).hexdigest(),
        rows_before=len(original),
        rows_after=len(original) if folded else len(combined),
        added_rows=0 if folded else len(rows),
        already_folded=folded,
        filled_columns=[c for c in columns if c not in batch.raw.columns],
        dropped_columns=[str(c) for c in batch.raw.columns if str(c) not in columns],
    )
    if update.already_folded:
        return update
    file_mode = stat.S_IMODE(reference.path.stat().st_mode)
    write_new_file(root / update.backup, before_bytes, mode=file_mode)
    if entry is None:
        ledger.append(
            {
                "batch_sha256": batch_sha256,
                "source": source,
                "files": [f.model_dump() for f in batch.files],
                "rows": len(rows),
                "mode": mode,
                "before_sha256": update.before_sha256,
                "after_sha256": update.after_sha256,
                "added_at": now(),
            }
        )
        _write_ledger(root, data_path, ledger)
    atomic_write_bytes(root / data_path, after_bytes)
    return update


def restore_training_data(update: DataUpdate) -> None:
    """Give the data its content from before ``update`` and drop the batch from the ledger.

    For a retrain whose gates failed: the data is as it was, and a later run may fold the batch
    in again. The file keeps its permissions and symlink.

    Raises:
        DataError: if the backup is gone or the data changed since the update (nothing is
            written then).
    """
    root = update.root
    backup = root / update.backup
    if not backup.is_file():
        raise DataError(f"{update.backup}: the backup of {update.path} is gone; cannot restore it")
    if sha256_file(root / update.path) not in (update.after_sha256, update.before_sha256):
        raise DataError(f"{update.path} changed since the batch was added; not restoring it")
    atomic_write_bytes(root / update.path, backup.read_bytes())
    ledger = read_ledger(root, update.path)
    _write_ledger(
        root, update.path, [e for e in ledger if e.get("batch_sha256") != update.batch_sha256]
    )
    backup.unlink()


def finish_update(update: DataUpdate) -> None:
    """Keep the batch: remove the backup of the data's previous content."""
    (update.root / update.backup).unlink(missing_ok=True)


def _concat(original: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    return pd.concat([original, rows], ignore_index=True)


def version_update(update: DataUpdate) -> list[str]:
    """Version the updated training data with DVC and stage what the retrain PR commits.

    The data file is tracked again (its pointer names the new bytes) and pushed to the DVC
    remote; the pointer, the ledger and a .gitignore DVC wrote are staged with ``git add`` (the
    data file itself stays out of git). Returns the staged paths, relative to the project.

    Raises:
        DataError: if DVC cannot track or push the data (one line naming the remote).
        ProjectError: if git refuses to stage a path.
    """
    from ..data.datastore import push, track

    root = update.root
    version = track(root, update.path)
    push(root, update.path)
    paths = [version.pointer, update.ledger]
    ignore = Path(update.path).parent / ".gitignore"  # DVC writes one outside ignored folders
    if (root / ignore).is_file():
        paths.append(ignore.as_posix())
    git.add(root, paths)
    return paths
