"""A batch of new data: one file, a folder or a glob, read and validated like the training data."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..artifacts import display_path, ensure_inside, glob_base, sha256_file
from ..errors import DataError
from ..records import BatchFile
from ..serving.traffic import PREFIX, SUFFIX, log_files, read_log

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Params
    from ..data import Dataset


@dataclass(frozen=True)
class Batch:
    """A validated batch of new data: one or more CSV files read as one frame."""

    frame: pd.DataFrame
    raw: pd.DataFrame
    labelled: bool
    files: list[BatchFile] = field(default_factory=list)
    source: str = ""


def resolve_source(source: str, root: Path, folders: list[Path] | None = None) -> list[Path]:
    """Return the batch files a source names: a path, a glob read in name order, or a folder.

    A folder is a traffic log (:mod:`..serving.traffic`): its ``traffic-*.jsonl`` files, in name
    order.

    Every file must resolve (symlinks followed) inside ``folders`` (default: the project): a
    batch path from a workflow input never reads a file elsewhere.

    Raises:
        DataError: if the file does not exist, or nothing matches the glob.
        PathError: if a file resolves outside ``folders``.
    """
    folders = folders or [root]
    what = "the batch (CURRENT or monitor.source)"
    ensure_inside(root / glob_base(source), folders, f"{what} {source!r}")
    pattern = str(root / source)
    if glob.has_magic(source):
        matches = glob.glob(pattern, recursive=True)  # noqa: PTH207 - absolute patterns too
        paths = sorted(Path(p) for p in matches if Path(p).is_file())
        if not paths:
            raise DataError(f"{source}: no file matches this pattern (monitor.source or CURRENT)")
    elif Path(pattern).is_dir():
        paths = log_files(Path(pattern))
        if not paths:
            raise DataError(
                f"{source}: a folder without traffic log files ({PREFIX}*{SUFFIX}): has the "
                "service answered /predict with serving.traffic_log on? (monitor.source or CURRENT)"
            )
    else:
        paths = [Path(pattern)]
        if not paths[0].exists():
            raise DataError(f"{source}: file not found (the batch: CURRENT or monitor.source)")
    for path in paths:
        ensure_inside(path, folders, f"{what} {display_path(path, root)!r}")
    return paths


def _validate_file(
    raw: pd.DataFrame, label: str, params: Params, reference: Dataset
) -> tuple[pd.DataFrame, bool]:
    """Validate one batch file with the training data's rules; return (frame, labelled).

    The features follow the training data's rules; a target column, when present, must have no
    missing values (and be numeric for regression). A batch may hold a single class: the class
    count and split rules of the training data do not apply to it.
    """
    from ..data import FeatureSchema, validate_features, validate_target

    columns = [str(c) for c in raw.columns]
    missing = [c for c in reference.features if c not in columns]
    if missing:
        raise DataError(
            f"{label}: missing column(s) the model was trained on: "
            f"{', '.join(map(repr, missing))}; columns are: {', '.join(columns)}"
        )
    pinned = FeatureSchema.of(params).pinned(reference.numeric, reference.categorical)
    frame, numeric, categorical = validate_features(raw, pinned, label)
    target = params.data.target
    if target not in columns:
        return frame[[*numeric, *categorical]], False
    frame = validate_target(frame, pinned, label)
    return frame[[*numeric, *categorical, target]], True


def load_batch(
    source: str, params: Params, reference: Dataset, root: Path, *, min_rows: int
) -> Batch:
    """Read and validate the batch files of ``source``; return them as one :class:`Batch`.

    CSV files, and traffic log files (``.jsonl``: the rows the service predicted, features only).

    Raises:
        DataError: for a missing, empty or malformed file, missing feature columns, values of
            the wrong type (the same messages as for the training data), a mix of labelled and
            unlabelled files, or fewer than ``min_rows`` rows.
    """
    import pandas as pd

    from ..config import data_folders
    from ..data import read_csv  # the training data's reader: same errors for a bad batch

    frames, raws, files, labelled = [], [], [], set()
    for path in resolve_source(source, root, data_folders(params, root)):
        label = display_path(path, root)
        raw = read_log(path, label) if path.suffix == SUFFIX else read_csv(path, label)
        frame, has_target = _validate_file(raw, label, params, reference)
        frames.append(frame)
        raws.append(raw)
        labelled.add(has_target)
        files.append(BatchFile(path=label, sha256=sha256_file(path), rows=len(frame)))
    if len(labelled) > 1:
        with_target = [f.path for f, r in zip(files, raws, strict=True) if params.data.target in r]
        raise DataError(
            f"{source}: some batch files have the target column {params.data.target!r} and some "
            f"do not (with it: {', '.join(with_target)}); check labelled and unlabelled data apart"
        )
    frame = pd.concat(frames, ignore_index=True)
    if len(frame) < min_rows:
        raise DataError(
            f"{source}: {len(frame)} row(s); monitoring needs at least {min_rows} "
            "(monitor.min_rows in params): drift scores on fewer rows are noise"
        )
    return Batch(
        frame=frame,
        raw=pd.concat(raws, ignore_index=True),
        labelled=labelled == {True},
        files=files,
        source=source,
    )
