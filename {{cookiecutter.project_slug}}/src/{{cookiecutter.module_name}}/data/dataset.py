"""A validated dataset: the configured file loaded and checked, the target's rules, the split.

Every problem with the data raises :class:`~..errors.DataError` naming the file, the column and
the rule, before any artifact is written.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifacts import sha256_file
from ..errors import DataError
from .columns import FeatureSchema, validate_columns
from .csvfile import read_csv
from .source import missing_data_hint
from .values import did_you_mean, line_of, refuse_infinite, to_numbers

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Params


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
            f"({text.iloc[first_number]!r} at line {line_of(frame, first_number)}, "
            f"{text.iloc[first_text]!r} at line {line_of(frame, first_text)}); "
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
        first = line_of(frame, int(missing.to_numpy().argmax()))
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
                f"at line {line_of(frame, position)}; regression needs a numeric target"
            )
        refuse_infinite(frame, values, target_name, label)
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
