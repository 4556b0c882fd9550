"""Get the data file params.yaml names, never a substitute (``make data``).

A DVC-tracked file is pulled at the version its pointer names (:mod:`..datastore`), a file that
is there is used as it is, and the bundled sample is written only to its own file name
(:data:`SAMPLE_FILES`), when params name that file or on request (``make sample``). Any other
missing file is an error saying how to get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..artifacts import write_new_file
from ..errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Params


#: Sample dataset per task, bundled with scikit-learn (no download).
SAMPLES = {"classification": "load_breast_cancer", "regression": "load_diabetes"}
#: The only file each sample is ever written to (relative to the project).
SAMPLE_FILES = {"classification": "data/breast_cancer.csv", "regression": "data/diabetes.csv"}
#: The sample's target column.
SAMPLE_TARGET = "target"


def sample_frame(task: str) -> pd.DataFrame:
    """Return the bundled sample dataset for ``task`` (target column :data:`SAMPLE_TARGET`)."""
    from sklearn import datasets

    frame: pd.DataFrame = getattr(datasets, SAMPLES[task])(as_frame=True).frame
    return frame


def write_sample(task: str, root: Path = Path()) -> tuple[Path, bool]:
    """Write the bundled sample of ``task`` to its own file (:data:`SAMPLE_FILES`), never over one.

    Returns:
        The sample's path and whether it was written (False: a file was already there).
    """
    path = root / SAMPLE_FILES[task]
    if path.exists():
        return path, False
    frame = sample_frame(task)
    written = write_new_file(path, frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    return path, written


@dataclass(frozen=True)
class Fetched:
    """What :func:`get_data` did for the configured data file.

    ``how``: ``pulled`` (the DVC version its pointer names was restored), ``in-sync`` (the file
    already is that version), ``modified`` (tracked, but the file holds changes not tracked yet:
    kept as it is), ``untracked`` (a file DVC does not track: kept as it is) or ``sample`` (the
    bundled sample, written because params name its file).
    """

    path: str
    how: Literal["pulled", "in-sync", "modified", "untracked", "sample"]
    md5: str | None = None


def missing_data_hint(params: Params, root: Path = Path()) -> str:
    """How to get the configured data file when it is missing (the end of an error message)."""
    from .data_version import pointer_path

    path = params.data.path
    if (root / pointer_path(path)).is_file():
        return f"`make data` pulls the version {pointer_path(path)} names"
    sample = SAMPLE_FILES[params.task]
    if path == sample:
        return "`make data` writes the bundled sample there"
    return (
        f"not tracked by DVC either (no {pointer_path(path)}): put your file there and run "
        f"`make track`, or use the bundled sample on purpose (`make sample` writes {sample}; "
        "set data.path to it)"
    )


def get_data(params: Params, root: Path = Path()) -> Fetched:
    """Get the data file params.yaml names, never a substitute (``make data``).

    A DVC-tracked file is pulled at the version its pointer names, or kept when it already is
    that version or holds changes not tracked yet (never overwritten). An untracked file is
    used as it is. A missing file is written only if it is the task's sample file.

    Raises:
        DataError: for a missing file that is neither tracked nor the sample (saying how to get
            it), or a pull that fails (:func:`.datastore.pull`); nothing is written then.
    """
    from . import data_version, datastore

    path = params.data.path
    current = data_version.status(root, path)
    if current.state == "missing":
        version = datastore.pull(root, path)
        return Fetched(path, "pulled", version.md5)
    if current.state in ("in-sync", "modified"):
        return Fetched(path, current.state, current.file_md5)
    if (root / path).exists():
        return Fetched(path, "untracked", current.file_md5)
    if path == SAMPLE_FILES[params.task]:
        write_sample(params.task, root)
        return Fetched(path, "sample")
    raise DataError(f"{path}: file not found; {missing_data_hint(params, root)}")
