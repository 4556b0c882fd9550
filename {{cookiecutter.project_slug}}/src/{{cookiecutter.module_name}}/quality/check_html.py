"""The gate report as HTML: deepchecks' page with the gates table on top, saved self-contained."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .check_record import ChecksResult
from .gates import Gate, direction, spec
from .suites import quiet_stack

if TYPE_CHECKING:
    pass


def write_html(result: ChecksResult, path: Path, connected: bool = True) -> Path:
    """Write the deepchecks report of every suite as one HTML page, replacing ``path``.

    The page opens with the gates' table (value, threshold, result of each), the verdict the
    deepchecks sections below support. See :func:`save_html` for ``connected``.
    """
    from deepchecks.core import SuiteResult

    combined = SuiteResult(
        "Quality gates",
        [check for suite in result.suite_results for check in suite.results],
        extra_info=[line for line in result.table().splitlines() if line.startswith("PASS")]
        + [line for line in result.table().splitlines() if line.startswith("FAIL")],
    )
    return save_html(combined, path, connected, preface=gates_html(result.gates, result.skipped))


def gates_html(gates: list[Gate], skipped: dict[str, str]) -> str:
    """An HTML section listing each gate with its value, threshold and result."""
    from html import escape

    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4g}"

    passed = sum(gate.passed for gate in gates)
    rows = "".join(
        f"<tr title='{escape(spec(g.name).meaning)}'><td>{escape(g.name)}</td>"
        f"<td>{escape(g.suite)}</td><td>{number(g.value)}</td>"
        f"<td>{'&le;' if direction(g.name) == 'max' else '&ge;'} {number(g.threshold)}</td>"
        f"<td style='color:{'#1a7f37' if g.passed else '#cf222e'}'>"
        f"{'pass' if g.passed else '<b>FAIL</b>'}</td><td>{escape(g.detail)}</td></tr>"
        for g in sorted(gates, key=lambda gate: gate.passed)
    )
    skips = "".join(f"<li>{escape(n)}: {escape(r)}</li>" for n, r in skipped.items())
    return (
        "<section id='quality-gates' style='font-family:sans-serif;margin:1em'>"
        f"<h2>Quality gates: {passed} of {len(gates)} passed</h2>"
        "<p>Thresholds from params.yaml (<code>gates:</code>); the deepchecks results below are "
        "what the values were measured from.</p>"
        "<table border='1' cellpadding='4' style='border-collapse:collapse'>"
        "<tr><th>Gate</th><th>Suite</th><th>Value</th><th>Threshold</th><th>Result</th>"
        f"<th>Detail</th></tr>{rows}</table>"
        + (f"<p>Skipped:</p><ul>{skips}</ul>" if skips else "")
        + "</section>"
    )


#: Where the preface goes: right after the page's opening <body> tag.
_BODY_TAG = re.compile(r"<body[^>]*>", re.IGNORECASE)


def save_html(
    suite_result: Any,  # noqa: ANN401 - a deepchecks SuiteResult
    path: Path,
    connected: bool = True,
    preface: str = "",
) -> Path:
    """Write a deepchecks result as an HTML page that atomically replaces ``path``.

    ``connected=True`` writes deepchecks' widget page that loads its JavaScript from a CDN
    (about 0.25 MB; viewing needs internet); ``False`` a self-contained page with plotly
    embedded (about 5 MB) that opens offline. ``preface`` (HTML) goes first in the page's body.
    The page is rendered in memory and written with :func:`~..artifacts.atomic_write_text`
    (``save_as_html`` given a file name never overwrites: it writes "name (1).html").
    """
    import io

    from ..artifacts import atomic_write_text

    with quiet_stack():
        if connected:
            buffer = io.StringIO()
            suite_result.save_as_html(buffer, as_widget=True, connected=True)
            page = buffer.getvalue()
        else:  # deepchecks' own save_as_html refuses an in-memory file in this mode
            page = suite_result.html_serializer.serialize(
                full_html=True, include_requirejs=True, include_plotlyjs=True, connected=False
            )
    if preface:
        match = _BODY_TAG.search(page)
        at = match.end() if match else 0
        page = page[:at] + preface + page[at:]
    return atomic_write_text(path, page)
