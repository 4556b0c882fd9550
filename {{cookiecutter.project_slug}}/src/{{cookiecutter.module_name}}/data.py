"""The data stage: get the configured data, load and validate a CSV, split it.

:func:`get_data` (``make data``) never substitutes data: a DVC-tracked file is pulled at the
version its pointer names (:mod:`.datastore`), a file that is there is used as it is, and the
bundled sample is written only to its own file name (:data:`SAMPLE_FILES`), when params name
that file or on request (``make sample``). Any other missing file is an error saying how to get
it. Every problem with the data raises :class:`~.errors.DataError` naming the file, the column
and the rule, before any artifact is written.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import math
import numbers
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

# Rules of feature inference (data.numeric_features/categorical_features left null). Columns
# listed in params are taken as they are; these rules only decide what an unlisted column is.
#: A text column with more distinct values than this share of its rows names rows (an id, a
#: name, free text): excluded, since one-hot encoding it only memorises the training rows.
ID_DISTINCT_SHARE = 0.5
#: Columns with fewer rows than this are too short to call anything id-like.
ID_MIN_ROWS = 20
#: A text column whose values are at least this share numbers is a numeric column with stray
#: text: refused with the line and value (encoding it as categories would hide the error).
NUMERIC_SHARE = 0.9
#: A text column whose distinct values are at least this share dates or times: excluded (a
#: date as a category never recurs in new data). Derive features from it yourself if needed.
DATE_SHARE = 0.9
#: Distinct values of a text column tried as dates (the first ones, in file order).
DATE_PROBE = 200
#: Categorical features with more categories than this get a warning (wide one-hot encoding).
HIGH_CARDINALITY = 50


@dataclass(frozen=True)
class FeatureSchema:
    """What the validation of a frame needs to know of its columns (from ``params.data``).

    ``numeric``/``categorical`` of None are inferred from the frame; a batch pins them to the
    training data's (:meth:`pinned`) so that a stray text value in a numeric column is reported
    rather than turning the column into a categorical one.
    """

    task: str
    target: str
    numeric: list[str] | None = None
    categorical: list[str] | None = None
    exclude: list[str] = field(default_factory=list)
    drop_missing_target: bool = False

    @classmethod
    def of(cls, params: Params) -> FeatureSchema:
        """The schema ``params.yaml`` configures."""
        data = params.data
        return cls(
            task=params.task,
            target=data.target,
            numeric=data.numeric_features,
            categorical=data.categorical_features,
            exclude=list(data.exclude),
            drop_missing_target=data.drop_missing_target,
        )

    def pinned(self, numeric: list[str], categorical: list[str]) -> FeatureSchema:
        """This schema with the feature lists fixed (a batch is checked against training's)."""
        return dataclasses.replace(self, numeric=list(numeric), categorical=list(categorical))


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
    #: Columns left out of the features, with the reason (data.exclude, id-like, dates).
    excluded: dict[str, str] = field(default_factory=dict)
    #: Warnings and handling worth telling the user (high cardinality, dropped rows).
    notes: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        """Feature columns in model input order: numeric first, then categorical."""
        return [*self.numeric, *self.categorical]

    def schema_lines(self) -> list[str]:
        """The inferred schema in a few lines: what became a feature and what did not."""
        lines = [
            f"numeric features ({len(self.numeric)}): {', '.join(self.numeric) or '-'}",
            f"categorical features ({len(self.categorical)}): {', '.join(self.categorical) or '-'}",
            f"target: {self.target}",
        ]
        lines += [f"excluded {name!r}: {why}" for name, why in self.excluded.items()]
        return lines + [f"note: {note}" for note in self.notes]

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
    _check_header(raw.decode("utf-8"), label)
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


def _check_header(text: str, label: str) -> None:
    """Refuse duplicate column names and names with spaces around them, as the file has them.

    pandas would silently rename a second ``age`` to ``age.1`` and keep ``"age "`` apart from
    ``age``: both end as a column nobody meant, or a "not found" for one that is there.
    """
    try:
        header = next(csv.reader(io.StringIO(text), skipinitialspace=True), [])
    except csv.Error:
        return  # pandas reports malformed CSV with its own message
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            raise DataError(
                f"{label}: column name {name!r} appears twice in the header (columns "
                f"{seen[name]} and {position}); give each column its own name"
            )
        seen[name] = position
        if name != name.strip():
            raise DataError(
                f"{label}: column name {name!r} (column {position}) has spaces around it; "
                f"rename it to {name.strip()!r} in the file"
            )


def did_you_mean(name: str, columns: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest column name, or nothing."""
    close = [c for c in columns if c.strip().lower() == name.strip().lower()]
    close = close or difflib.get_close_matches(name, columns, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _line(frame: pd.DataFrame, position: int) -> int:
    """File line number of a data row (line 1 is the header).

    The row's index label when it is the file's row number (read_csv's RangeIndex, kept when
    rows without a target were dropped), else its position.
    """
    label = frame.index[position]
    return int(label) + 2 if isinstance(label, numbers.Integral) else int(position) + 2


@dataclass(frozen=True)
class Columns:
    """What each column of a frame is: features, excluded (with the reason), and notes."""

    numeric: list[str]
    categorical: list[str]
    excluded: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def to_numbers(values: pd.Series) -> pd.Series:
    """Values as floats, NaN where not a number; a number beyond float range is infinite.

    pandas' to_numeric turns "1e400" into NaN, which would call it text: Python's float reads it
    as infinite, and the caller refuses it as such, naming the value.
    """
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    failed = numbers.isna() & values.notna()
    if failed.any():
        numbers[failed] = values[failed].map(_float_or_nan)
    return numbers


def _float_or_nan(value: Any) -> float:  # noqa: ANN401 - a cell of any type
    text = str(value).strip()
    if "_" in text:  # Python's float reads "1_000"; a CSV number never has one
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def _infer_column(frame: pd.DataFrame, column: str, label: str) -> tuple[str, str]:
    """Return ``(kind, why)`` of an unlisted column: numeric, categorical or excluded.

    Raises:
        DataError: for a mostly numeric column with stray text (line and value named).
    """
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_integer_dtype, is_numeric_dtype

    values = frame[column]
    present = values.dropna()
    rows = len(present)
    if is_bool_dtype(values):
        return "categorical", ""
    if is_numeric_dtype(values):
        if (
            is_integer_dtype(values)
            and rows >= ID_MIN_ROWS
            and present.is_unique
            and int(present.max()) - int(present.min()) + 1 == rows
        ):
            return "excluded", "id-like: consecutive integers, one per row"
        return "numeric", ""
    if rows == 0:
        return "categorical", ""
    numbers = to_numbers(present)
    parsed = numbers.notna()
    if parsed.all():
        return "numeric", ""  # numbers pandas kept as text, e.g. "1e400" or "inf": checked later
    if parsed.mean() >= NUMERIC_SHARE:
        position = int((~parsed).to_numpy().argmax())  # the first row that is not a number
        raise DataError(
            f"{label}: column {column!r}: text value {values.iloc[position]!r} at line "
            f"{_line(frame, position)} in a column of numbers ({parsed.mean():.0%} of its values); "
            "fix the value, or list the column under data.categorical_features if it is "
            "categorical"
        )
    distinct = present.astype(str).drop_duplicates()
    probe = distinct.head(DATE_PROBE)
    dates = pd.to_datetime(probe, errors="coerce", format="mixed")
    if dates.notna().mean() >= DATE_SHARE:
        return "excluded", (
            f"dates or times (e.g. {probe.iloc[0]!r}); derive features from it "
            "(year, weekday...) if they matter"
        )
    if rows >= ID_MIN_ROWS and len(distinct) > ID_DISTINCT_SHARE * rows:
        return "excluded", (
            f"id-like: {len(distinct)} distinct values in {rows} rows; list it under "
            "data.categorical_features to use it anyway"
        )
    return "categorical", ""


def _resolve_features(frame: pd.DataFrame, schema: FeatureSchema, label: str) -> Columns:
    """Pick numeric and categorical feature columns: explicit lists, else inferred."""
    columns = [str(c) for c in frame.columns]
    listed = {"numeric_features": schema.numeric, "categorical_features": schema.categorical}
    for key, names in listed.items():
        for column in names or []:
            if column not in columns:
                raise DataError(
                    f"{label}: column {column!r} (data.{key} in params) not found"
                    f"{did_you_mean(column, columns)}; columns are: {', '.join(columns)}"
                )
    taken = {schema.target, *schema.exclude, *(schema.numeric or [])}
    taken |= set(schema.categorical or [])
    rest = [c for c in columns if c not in taken]
    excluded = {c: "data.exclude in params" for c in schema.exclude if c in columns}
    inferred = (
        {}
        if schema.numeric is not None and schema.categorical is not None
        else {c: _infer_column(frame, c, label) for c in rest}
    )
    numeric_cols = schema.numeric
    if numeric_cols is None:
        numeric_cols = [c for c in rest if inferred[c][0] == "numeric"]
    categorical_cols = schema.categorical
    if categorical_cols is None:
        categorical_cols = [
            c for c in rest if c not in numeric_cols and inferred[c][0] != "excluded"
        ]
    excluded |= {
        c: why
        for c, (kind, why) in inferred.items()
        if kind == "excluded" and c not in numeric_cols and c not in categorical_cols
    }
    if not numeric_cols and not categorical_cols:
        raise DataError(f"{label}: no feature columns besides the target {schema.target!r}")
    notes = []
    for column in categorical_cols:
        count = frame[column].nunique()
        if count > HIGH_CARDINALITY:
            notes.append(
                f"categorical feature {column!r} has {count} categories (more than "
                f"{HIGH_CARDINALITY}): a wide encoding; exclude or group it if that is noise"
            )
    return Columns(list(numeric_cols), list(categorical_cols), excluded, notes)


def validate_features(
    frame: pd.DataFrame, schema: FeatureSchema, label: str
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Check and convert the feature columns of ``frame`` (a target column is not required).

    Returns:
        The converted frame, the numeric and the categorical feature columns.

    Raises:
        DataError: naming ``label`` (the file), the column and the rule.
    """
    frame, columns = validate_columns(frame, schema, label)
    return frame, columns.numeric, columns.categorical


def validate_columns(
    frame: pd.DataFrame, schema: FeatureSchema, label: str
) -> tuple[pd.DataFrame, Columns]:
    """Resolve the feature columns of ``frame`` and convert them (see :func:`validate_features`).

    Numeric features become float64 (finite, or missing); categorical ones strings, missing
    values NaN (the one missing marker the pipeline's imputer knows), so that the encoder sees
    one type per column. Other columns are returned unchanged.
    """
    import numpy as np

    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    columns = _resolve_features(frame, schema, label)
    for column in columns.numeric:
        values = to_numbers(frame[column])
        text = values.isna() & frame[column].notna()
        if text.any():
            position = int(text.to_numpy().argmax())
            raise DataError(
                f"{label}: column {column!r}: non-numeric value "
                f"{frame[column].iloc[position]!r} at line {_line(frame, position)} "
                "in a numeric feature (list the column under data.categorical_features "
                "if it is categorical)"
            )
        _refuse_infinite(frame, values, column, label)
        frame[column] = values.astype("float64")
    for column in columns.categorical:
        values = frame[column].astype("object")
        frame[column] = values.map(str).where(values.notna(), np.nan)
    return frame, columns


def _refuse_infinite(frame: pd.DataFrame, values: pd.Series, column: str, label: str) -> None:
    # pandas reads "inf", "-Infinity" or "1e400" (beyond float range) as an infinite number; no
    # model can use one (the service refuses it too).
    infinite = values.isin([math.inf, -math.inf])
    if infinite.any():
        position = int(infinite.to_numpy().argmax())
        raise DataError(
            f"{label}: column {column!r}: infinite value {frame[column].iloc[position]!r} at "
            f"line {_line(frame, position)} (inf, or a number beyond float range); "
            "fix or remove it"
        )


def _refuse_mixed_labels(target: pd.Series, frame: pd.DataFrame, label: str, name: str) -> None:
    """Refuse class labels that mix numbers and text (``1`` and ``"zero"``).

    pandas reads such a column as text, so ``1`` and ``1.0`` would become two classes.
    """
    from pandas.api.types import is_object_dtype

    if not is_object_dtype(target):
        return
    text = target.astype(str)
    numbers = to_numbers(text)
    parsed = numbers.notna()
    if parsed.any() and not parsed.all():
        first_number = int(parsed.to_numpy().argmax())
        first_text = int((~parsed).to_numpy().argmax())
        raise DataError(
            f"{label}: column {name!r}: class labels mix numbers and text "
            f"({text.iloc[first_number]!r} at line {_line(frame, first_number)}, "
            f"{text.iloc[first_text]!r} at line {_line(frame, first_text)}); "
            "use one kind of label"
        )


def validate_target(
    frame: pd.DataFrame, schema: FeatureSchema, label: str, notes: list[str] | None = None
) -> pd.DataFrame:
    """Check the target column's values: none missing, numeric for regression (made float64).

    Rows without a target are an error, or dropped when ``data.drop_missing_target`` is true
    (the count is appended to ``notes``).

    Raises:
        DataError: naming ``label``, the column and the first offending line.
    """
    target_name = schema.target
    target = frame[target_name]
    missing = target.isna()
    if missing.any() and schema.drop_missing_target:
        frame = frame[~missing.to_numpy()]
        if notes is not None:
            notes.append(
                f"dropped {int(missing.sum())} row(s) with no {target_name!r} "
                "(data.drop_missing_target)"
            )
        if frame.empty:
            raise DataError(f"{label}: column {target_name!r}: every target value is missing")
        target = frame[target_name]
    elif missing.any():
        first = _line(frame, int(missing.to_numpy().argmax()))
        raise DataError(
            f"{label}: column {target_name!r}: {int(missing.sum())} missing target value(s), "
            f"first at line {first}; every row needs a target (or set "
            "data.drop_missing_target: true in params to drop those rows)"
        )
    if schema.task == "regression":
        values = to_numbers(target)
        if values.isna().any():
            position = int(values.isna().to_numpy().argmax())
            raise DataError(
                f"{label}: column {target_name!r}: non-numeric target {target.iloc[position]!r} "
                f"at line {_line(frame, position)}; regression needs a numeric target"
            )
        _refuse_infinite(frame, values, target_name, label)
        frame = frame.assign(**{target_name: values.astype("float64")})
    else:
        _refuse_mixed_labels(target, frame, label, target_name)
    return frame


def validate_frame(frame: pd.DataFrame, params: Params, label: str) -> Dataset:
    """Check ``frame`` against the configured schema; return a typed :class:`Dataset`.

    Raises:
        DataError: naming ``label`` (the file), the column and the rule.
    """
    data = params.data
    schema = FeatureSchema.of(params)
    columns = [str(c) for c in frame.columns]
    if data.target not in columns:
        raise DataError(
            f"{label}: target column {data.target!r} (data.target in params) not found"
            f"{did_you_mean(data.target, columns)}; columns are: {', '.join(columns)}"
        )
    frame, resolved = validate_columns(frame, schema, label)
    notes = list(resolved.notes)
    frame = validate_target(frame, schema, label, notes)
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
        frame=frame[[*resolved.numeric, *resolved.categorical, data.target]],
        target=data.target,
        numeric=resolved.numeric,
        categorical=resolved.categorical,
        classes=[_plain(c) for c in classes] if classes is not None else None,
        excluded=resolved.excluded,
        notes=notes,
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
    return dataclasses.replace(dataset, path=path, sha256=sha256_file(path))


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
