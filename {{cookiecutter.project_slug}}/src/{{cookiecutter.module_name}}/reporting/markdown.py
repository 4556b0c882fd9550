"""Markdown cells, tables and details blocks of the report (text only, escaped)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .compare import BETTER, MISSING, NEW, NOISE, REMOVED, UNCHANGED, WORSE, MetricChange

if TYPE_CHECKING:
    from pydantic import BaseModel


MARKS = {
    BETTER: "✅ better",
    WORSE: "❌ worse",
    NOISE: "≈ within noise",
    UNCHANGED: "unchanged",
    NEW: "new",
    REMOVED: "removed",
}


def md_cell(value: object) -> str:
    """Render a value for a table cell: one line, pipes escaped."""
    if value is MISSING:
        text = "(absent)"
    elif value is None:
        text = "n/a"
    elif isinstance(value, float):
        text = f"{value:.4g}" if abs(value) >= 1e4 or 0 < abs(value) < 1e-3 else f"{value:.4f}"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value)
    return " ".join(text.split()).replace("|", "\\|")


def md_field(record: BaseModel, name: str, absent: object = MISSING) -> object:
    """A field of a record, or ``absent`` when the record does not have it (an older run's)."""
    return getattr(record, name) if name in record.model_fields_set else absent


def md_code(value: object) -> str:
    """A table cell in code font."""
    return f"`{md_cell(value)}`"


def md_number(value: float | None) -> str:
    """A number cell (``-`` when there is none)."""
    return "-" if value is None else md_cell(float(value))


def md_delta(change: MetricChange) -> str:
    """A metric change as a signed cell (``0`` when unchanged, ``-`` when not comparable)."""
    if change.delta is None:
        return "-"
    if change.verdict == UNCHANGED:
        return "0"
    if 1e-4 <= abs(change.delta) < 1e4:  # as precise as the values (4 decimals)
        return f"{change.delta:+.4f}"
    return f"{change.delta:+.2e}"


def md_param(value: object) -> str:
    """Render a parameter value as written in YAML/JSON (no rounding), in backticks."""
    text = "(absent)" if value is MISSING else json.dumps(value)
    return f"`{md_cell(text)}`"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    """A GitHub table; ``align`` holds one of ``l``/``r``/``c`` per column (default left)."""
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    line = [marks[align[i]] if i < len(align) else "---" for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(line) + " |"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def md_details(summary: str, body: list[str], *, open_: bool = False) -> list[str]:
    """A collapsible ``<details>`` block with ``summary`` over ``body``."""
    tag = "<details open>" if open_ else "<details>"
    return [tag, f"<summary>{summary}</summary>", "", *body, "", "</details>"]
