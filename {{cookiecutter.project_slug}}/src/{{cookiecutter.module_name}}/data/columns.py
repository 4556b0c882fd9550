"""Which columns are features (listed in params, else inferred), and their conversion.

Numeric features become float64 (finite, or missing), categorical ones strings with NaN for
missing values: one type per column for the pipeline's encoders.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import DataError
from .values import did_you_mean, line_of, refuse_infinite, to_numbers

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Params


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
class Columns:
    """What each column of a frame is: features, excluded (with the reason), and notes."""

    numeric: list[str]
    categorical: list[str]
    excluded: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


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
            f"{line_of(frame, position)} in a column of numbers ({parsed.mean():.0%} of its "
            "values); fix the value, or list the column under data.categorical_features if it "
            "is categorical"
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
                f"{frame[column].iloc[position]!r} at line {line_of(frame, position)} "
                "in a numeric feature (list the column under data.categorical_features "
                "if it is categorical)"
            )
        refuse_infinite(frame, values, column, label)
        frame[column] = values.astype("float64")
    for column in columns.categorical:
        values = frame[column].astype("object")
        frame[column] = values.map(str).where(values.notna(), np.nan)
    return frame, columns
