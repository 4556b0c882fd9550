"""The data stage: get the configured data, load and validate a CSV, split it.

:func:`get_data` (``make data``) never substitutes data: a DVC-tracked file is pulled at the
version its pointer names (:mod:`.datastore`), a file that is there is used as it is, and the
bundled sample is written only to its own file name (:data:`SAMPLE_FILES`), when params name
that file or on request (``make sample``). Any other missing file is an error saying how to get
it. Every problem with the data raises :class:`~.errors.DataError` naming the file, the column
and the rule, before any artifact is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .artifacts import sha256_file, write_new_file
from .errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from .config import Params

#: Sample dataset per task, bundled with scikit-learn (no download).
SAMPLES = {"classification": "load_breast_cancer", "regression": "load_diabetes"}
#: The only file each sample is ever written to (relative to the project).
SAMPLE_FILES = {"classification": "data/breast_cancer.csv", "regression": "data/diabetes.csv"}
#: The sample's target column.
SAMPLE_TARGET = "target"


@dataclass(frozen=True)
class Dataset:
    """A validated dataset: the frame and what the configuration says about its columns."""

    path: Path
    frame: pd.DataFrame
    target: str
    numeric: list[str]
    categorical: list[str]
    sha256: str = ""
    classes: list[Any] | None = field(default=None)

    @property
    def features(self) -> list[str]:
        """Feature columns in model input order: numeric first, then categorical."""
        return [*self.numeric, *self.categorical]

    @property
    def X(self) -> pd.DataFrame:
        """The feature columns."""
        return self.frame[self.features]

    @property
    def y(self) -> pd.Series:
        """The target column."""
        return self.frame[self.target]


def sample_frame(task: str) -> pd.DataFrame:
    """Return the bundled sample dataset for ``task`` (target column :data:`SAMPLE_TARGET`)."""
    from sklearn import datasets

    return getattr(datasets, SAMPLES[task])(as_frame=True).frame


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
    from .datastore import pointer_path

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
    from . import datastore

    path = params.data.path
    current = datastore.status(root, path)
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


def read_csv(path: Path, label: str) -> pd.DataFrame:
    """Read a CSV file; raise DataError naming ``label`` for anything that is not a usable CSV."""
    import pandas as pd

    if not path.is_file():
        if path.exists():
            raise DataError(f"{label}: is not a file")
        raise DataError(f"{label}: file not found")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{label}: file is empty")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{label}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); "
            "save the file as UTF-8 CSV"
        ) from None
    if b"\x00" in raw:
        raise DataError(f"{label}: not a CSV file (contains NUL bytes)")
    start = raw.lstrip()[:1]
    if start in (b"{", b"[", b"<"):
        kind = "JSON" if start in (b"{", b"[") else "XML or HTML"
        raise DataError(f"{label}: not a CSV file (it looks like {kind})")
    try:
        frame = pd.read_csv(path, encoding="utf-8", skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{label}: file is empty") from None
    except (pd.errors.ParserError, ValueError) as exc:
        message = str(exc).strip().splitlines()[-1]
        raise DataError(f"{label}: not a valid CSV file: {message}") from None
    if frame.empty:
        raise DataError(f"{label}: has a header but no data rows")
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ")]
    if len(frame.columns) < 2 or unnamed:
        raise DataError(
            f"{label}: not a valid CSV file: expected a header row of comma-separated column "
            f"names, got {', '.join(map(repr, frame.columns[:5]))}"
        )
    return frame


def _line(frame: pd.DataFrame, position: int) -> int:
    """File line number of a data row (line 1 is the header)."""
    return int(position) + 2


def _resolve_features(frame: pd.DataFrame, params: Params, label: str) -> tuple[list, list]:
    """Pick numeric and categorical feature columns: explicit lists, else inferred from dtypes."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    data = params.data
    columns = [str(c) for c in frame.columns]
    for key in ("numeric_features", "categorical_features"):
        for column in getattr(data, key) or []:
            if column not in columns:
                raise DataError(
                    f"{label}: column {column!r} (data.{key} in params) not found; "
                    f"columns are: {', '.join(columns)}"
                )
    taken = {data.target, *data.exclude, *(data.numeric_features or [])}
    taken |= set(data.categorical_features or [])
    rest = [c for c in columns if c not in taken]

    def numeric(column: str) -> bool:
        return is_numeric_dtype(frame[column]) and not is_bool_dtype(frame[column])

    numeric_cols = data.numeric_features
    if numeric_cols is None:
        numeric_cols = [c for c in rest if numeric(c)]
    categorical_cols = data.categorical_features
    if categorical_cols is None:
        categorical_cols = [c for c in rest if c not in numeric_cols]
    if not numeric_cols and not categorical_cols:
        raise DataError(f"{label}: no feature columns besides the target {data.target!r}")
    return list(numeric_cols), list(categorical_cols)


def validate_features(
    frame: pd.DataFrame, params: Params, label: str
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Check and convert the feature columns of ``frame`` (a target column is not required).

    Numeric features become float64; categorical ones strings (missing values kept) so that the
    encoder sees one type per column. Other columns are returned unchanged.

    Returns:
        The converted frame, the numeric and the categorical feature columns.

    Raises:
        DataError: naming ``label`` (the file), the column and the rule.
    """
    import pandas as pd

    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    numeric_cols, categorical_cols = _resolve_features(frame, params, label)
    for column in numeric_cols:
        values = pd.to_numeric(frame[column], errors="coerce")
        # pandas reads "inf", "INF" or "-Infinity" as a number; no model can use one (the service
        # refuses it too), so an infinite value is as bad as text.
        bad = (values.isna() & frame[column].notna()) | values.isin([math.inf, -math.inf])
        if bad.any():
            position = int(bad.to_numpy().argmax())
            raise DataError(
                f"{label}: column {column!r}: non-numeric value "
                f"{frame[column].iloc[position]!r} at line {_line(frame, position)} "
                "in a numeric feature (list the column under data.categorical_features "
                "if it is categorical)"
            )
        frame[column] = values.astype("float64")
    for column in categorical_cols:
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
        frame[column] = frame[column].map(lambda v: v if v is None else str(v))
    return frame, numeric_cols, categorical_cols


def validate_target(frame: pd.DataFrame, params: Params, label: str) -> pd.DataFrame:
    """Check the target column's values: none missing, numeric for regression (made float64).

    Raises:
        DataError: naming ``label``, the column and the first offending line.
    """
    import pandas as pd

    target_name = params.data.target
    target = frame[target_name]
    missing = target.isna()
    if missing.any():
        first = _line(frame, int(missing.to_numpy().argmax()))
        raise DataError(
            f"{label}: column {target_name!r}: {int(missing.sum())} missing target value(s), "
            f"first at line {first}; every row needs a target"
        )
    if params.task == "regression":
        values = pd.to_numeric(target, errors="coerce")
        if values.isna().any():
            position = int(values.isna().to_numpy().argmax())
            raise DataError(
                f"{label}: column {target_name!r}: non-numeric target {target.iloc[position]!r} "
                f"at line {_line(frame, position)}; regression needs a numeric target"
            )
        frame = frame.assign(**{target_name: values.astype("float64")})
    return frame


def validate_frame(frame: pd.DataFrame, params: Params, label: str) -> Dataset:
    """Check ``frame`` against the configured schema; return a typed :class:`Dataset`.

    Categorical columns are converted to strings (missing values kept) so that the encoder sees
    one type per column.

    Raises:
        DataError: naming ``label`` (the file), the column and the rule.
    """
    data = params.data
    columns = [str(c) for c in frame.columns]
    if data.target not in columns:
        raise DataError(
            f"{label}: target column {data.target!r} (data.target in params) not found; "
            f"columns are: {', '.join(columns)}"
        )
    frame, numeric_cols, categorical_cols = validate_features(frame, params, label)
    frame = validate_target(frame, params, label)
    classes = None
    if params.task == "classification":
        counts = frame[data.target].value_counts()
        if len(counts) < 2:
            raise DataError(
                f"{label}: column {data.target!r}: only one class ({counts.index[0]!r}); "
                "classification needs at least 2 classes"
            )
        classes = sorted(counts.index.tolist(), key=lambda v: (str(type(v)), v))
    _check_splittable(frame, params, label)
    return Dataset(
        path=Path(label),
        frame=frame[[*numeric_cols, *categorical_cols, data.target]],
        target=data.target,
        numeric=numeric_cols,
        categorical=categorical_cols,
        classes=[_plain(c) for c in classes] if classes is not None else None,
    )


def _plain(value: Any) -> Any:  # noqa: ANN401 - any scalar
    """Convert numpy scalars to Python scalars (for JSON)."""
    return value.item() if hasattr(value, "item") else value


def split_sizes(rows: int, test_size: float) -> tuple[int, int]:
    """Return (train rows, test rows) as scikit-learn's train_test_split computes them."""
    test = math.ceil(test_size * rows)
    return rows - test, test


def _check_splittable(frame: pd.DataFrame, params: Params, label: str) -> None:
    rows = len(frame)
    train, test = split_sizes(rows, params.data.test_size)
    rule = f"{rows} row(s) with data.test_size {params.data.test_size}"
    if train < 1 or test < 1:
        raise DataError(f"{label}: too few rows to split: {rule} leave {train} train, {test} test")
    if params.task == "classification":
        counts = frame[params.data.target].value_counts()
        rare = counts[counts < 2]
        if len(rare):
            raise DataError(
                f"{label}: column {params.data.target!r}: too few rows to split: class "
                f"{rare.index[0]!r} has {int(rare.iloc[0])} row; a stratified split needs at "
                "least 2 per class"
            )
        if test < len(counts) or train < len(counts):
            raise DataError(
                f"{label}: too few rows to split: {rule} leave {train} train and {test} test "
                f"rows, fewer than the {len(counts)} classes; a stratified split needs one of "
                "each class on both sides"
            )


def load_dataset(params: Params, root: Path = Path()) -> Dataset:
    """Read the configured CSV, validate it and return a :class:`Dataset`.

    Raises:
        DataError: for a missing, empty, non-UTF-8 or malformed file, or data that does not
            match the configured schema.
    """
    path = root / params.data.path
    label = params.data.path
    if not path.exists():
        raise DataError(f"{label}: file not found; {missing_data_hint(params, root)}")
    frame = read_csv(path, label)
    dataset = validate_frame(frame, params, label)
    return Dataset(
        path=path,
        frame=dataset.frame,
        target=dataset.target,
        numeric=dataset.numeric,
        categorical=dataset.categorical,
        sha256=sha256_file(path),
        classes=dataset.classes,
    )


def split(
    dataset: Dataset, test_size: float, seed: int, *, stratify: bool
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Split into train and test with a fixed seed, stratified on the target if asked.

    Returns:
        X_train, X_test, y_train, y_test.
    """
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        dataset.X,
        dataset.y,
        test_size=test_size,
        random_state=seed,
        stratify=dataset.y if stratify else None,
    )
    return x_train, x_test, y_train, y_test
