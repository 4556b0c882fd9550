"""Jinja filters of the template (cookiecutter loads them through `_extensions`).

Each answer is escaped for the format of the file it lands in: `tojson` for TOML and YAML
strings (a JSON string is a valid TOML basic string and YAML double-quoted scalar), the filter
below for Markdown.
"""

from __future__ import annotations

import re

from cookiecutter.utils import simple_filter

#: Characters with an inline meaning in CommonMark/GitHub Markdown: code, emphasis, links,
#: images, HTML and entities, tables, strikethrough, a heading's closing #, and the escape
#: character itself.
_INLINE = re.compile(r"([\\`*_\[\]<>&!|~#])")
#: What else turns the start of a line into a block: a quote, list item or thematic break.
_BLOCK_START = re.compile(r"^([>+=-]|\d+(?=[.)]))")


@simple_filter
def markdown_text(value: str) -> str:
    """Return ``value`` escaped so that Markdown shows it literally, as one line of text.

    Answers are single lines without leading spaces (the pre-generation hook refuses others), so
    escaping the inline syntax and a block marker at the start is enough.
    """
    escaped = _INLINE.sub(r"\\\1", value)
    match = _BLOCK_START.match(escaped)
    if match is None:
        return escaped
    at = match.end() if match.group(1).isdigit() else 0  # "1." and "1)": escape the delimiter
    return f"{escaped[:at]}\\{escaped[at:]}"
