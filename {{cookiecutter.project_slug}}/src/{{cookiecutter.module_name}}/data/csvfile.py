"""Read a CSV file, refusing anything that is not a usable one with the reason (DataError)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DataError

if TYPE_CHECKING:
    import pandas as pd


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
