"""Cell-level helpers of validation: numbers from text, file line numbers, close names."""

from __future__ import annotations

import difflib
import math
import numbers
from typing import TYPE_CHECKING, Any

from ..errors import DataError

if TYPE_CHECKING:
    import pandas as pd


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


def line_of(frame: pd.DataFrame, position: int) -> int:
    """File line number of a data row (line 1 is the header).

    The row's index label when it is the file's row number (read_csv's RangeIndex, kept when
    rows without a target were dropped), else its position.
    """
    label = frame.index[position]
    return int(label) + 2 if isinstance(label, numbers.Integral) else int(position) + 2


def refuse_infinite(frame: pd.DataFrame, values: pd.Series, column: str, label: str) -> None:
    """Raise DataError naming the first infinite value of ``values`` and its line.

    pandas reads "inf", "-Infinity" or "1e400" (beyond float range) as an infinite number; no
    model can use one (the service refuses it too).
    """
    infinite = values.isin([math.inf, -math.inf])
    if infinite.any():
        position = int(infinite.to_numpy().argmax())
        raise DataError(
            f"{label}: column {column!r}: infinite value {frame[column].iloc[position]!r} at "
            f"line {line_of(frame, position)} (inf, or a number beyond float range); "
            "fix or remove it"
        )


def did_you_mean(name: str, columns: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest column name, or nothing."""
    close = [c for c in columns if c.strip().lower() == name.strip().lower()]
    close = close or difflib.get_close_matches(name, columns, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
