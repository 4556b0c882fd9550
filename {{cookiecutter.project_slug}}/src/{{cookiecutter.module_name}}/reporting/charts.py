"""Charts as Mermaid text: GitHub draws them in the PR comment, so no image leaves the repository.

Each function returns one fenced ``mermaid`` block (an ``xychart-beta`` diagram) or ``""`` when
there is nothing to draw. Labels are data from the run (feature names, class labels): they are
quoted and stripped of what Mermaid's grammar reserves. The template's tests parse every block
with mermaid's own parser (npm).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

FENCE = "```"
#: What a quoted label may not hold: quotes, backslashes, brackets, markup, control characters
#: (the comment workflow posts a chart only when its labels have none of them).
_UNSAFE = re.compile(r"[\"`\\\[\]{}<>;#\x00-\x1f]")
LABEL_LENGTH = 28
TITLE_LENGTH = 90


def label(text: object, length: int = LABEL_LENGTH) -> str:
    """A quoted label: at most ``length`` characters, nothing Mermaid reserves."""
    clean = " ".join(_UNSAFE.sub(" ", str(text)).split()) or "?"
    if len(clean) > length:
        clean = clean[: length - 1] + "…"
    return f'"{clean}"'


def number(value: float) -> str:
    """A number as Mermaid reads it (plain decimal, 4 significant digits)."""
    text = f"{value:.4g}"
    if "e" in text:  # Mermaid reads no exponent: write it out
        text = f"{value:.8f}".rstrip("0").rstrip(".")
    return text


def _finite(values: Sequence[float | None]) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def xychart(
    title: str,
    labels: Sequence[object],
    series: Sequence[tuple[str, Sequence[float]]],
    y_title: str,
    y_range: tuple[float, float] | None = None,
    *,
    horizontal: bool = False,
) -> str:
    """One ``xychart-beta`` block; ``series`` are ``("bar" | "line", values)`` pairs."""
    if not labels or not series or any(len(v) != len(labels) for _, v in series):
        return ""
    if not all(_finite(list(values)) for _, values in series):
        return ""
    head = "xychart-beta horizontal" if horizontal else "xychart-beta"
    axis = f"  y-axis {label(y_title)}"
    if y_range is not None:
        axis += f" {number(y_range[0])} --> {number(y_range[1])}"
    lines = [
        f"{FENCE}mermaid",
        head,
        f"  title {label(title, TITLE_LENGTH)}",
        "  x-axis [" + ", ".join(label(x) for x in labels) + "]",
        axis,
    ]
    lines += [f"  {kind} [" + ", ".join(number(v) for v in values) + "]" for kind, values in series]
    return "\n".join([*lines, FENCE])


def comparison_chart(
    title: str, names: Sequence[str], pr: Sequence[float], base: Sequence[float] | None
) -> str:
    """This PR's values as bars, the base's as a line over them (same metrics, same unit)."""
    series: list[tuple[str, Sequence[float]]] = [("bar", pr)]
    if base is not None:
        series.append(("line", base))
    values = [*pr, *(base or [])]
    if not _finite(values):
        return ""
    bounded = all(0 <= v <= 1 for v in values)
    low = 0.0 if bounded else min(0.0, *values)
    high = 1.0 if bounded else max(values) * 1.1
    return xychart(title, names, series, "value", (low, high))


def roc_chart(fpr: Sequence[float], tpr: Sequence[float]) -> str:
    """The ROC curve sampled at fixed false positive rates, with the chance line."""
    if not fpr:
        return ""
    return xychart(
        "ROC curve (test): true positive rate by false positive rate",
        [number(x) for x in fpr],
        [("line", tpr), ("line", fpr)],
        "true positive rate",
        (0.0, 1.0),
    )


def histogram_chart(title: str, edges: Sequence[float], counts: Sequence[int]) -> str:
    """Bars of a histogram, each labelled with its bin's centre."""
    if len(edges) != len(counts) + 1 or not counts:
        return ""
    centres = [number((a + b) / 2) for a, b in itertools.pairwise(edges)]
    return xychart(title, centres, [("bar", [float(c) for c in counts])], "rows")


def importance_chart(importance: Sequence[tuple[str, float]]) -> str:
    """Horizontal bars of the most important features (drop in score when shuffled)."""
    if not importance:
        return ""
    names = [name for name, _ in importance]
    values = [max(0.0, value) for _, value in importance]
    top = max(values) or 1.0
    return xychart(
        "Permutation importance (test): drop in score when shuffled",
        names,
        [("bar", values)],
        "drop in score",
        (0.0, top * 1.1),
        horizontal=True,
    )


def trend_chart(title: str, labels: Sequence[str], values: Sequence[float]) -> str:
    """A line of one metric over runs, oldest first."""
    if len(values) < 2:
        return ""
    return xychart(title, labels, [("line", values)], "value")
