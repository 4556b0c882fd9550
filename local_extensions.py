"""Jinja extensions of the template (cookiecutter loads them through `_extensions`).

Each answer is escaped for the format of the file it lands in: `tojson` for TOML and YAML
strings (a JSON string is a valid TOML basic string and YAML double-quoted scalar), the
`markdown_text` filter for Markdown.

`CheckedProjectDirectory` validates the answers while cookiecutter renders the project
directory's name, before it creates that directory: cookiecutter runs the pre-generation hook
only after the directory exists, so a slug such as `a/b` or `../../x/y` would otherwise leave
`a` (or `../../x`, outside the output directory) behind when the hook refuses it.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import ModuleType

from cookiecutter.exceptions import FailedHookException
from cookiecutter.utils import simple_filter
from jinja2 import Environment
from jinja2.ext import Extension

#: The name of the template's project directory, exactly as cookiecutter renders it.
PROJECT_DIRECTORY = "{{cookiecutter.project_slug}}"
#: What it is rendered as instead: the same slug, once every answer passed the hook's rules.
CHECKED_PROJECT_DIRECTORY = "{{ (cookiecutter | checked_answers).project_slug }}"
#: The pre-generation hook: its `validate` is the one set of rules for the answers.
RULES = Path(__file__).resolve().parent / "hooks" / "pre_gen_project.py"


class RefusedAnswers(FailedHookException):
    """The answers were refused before anything was written (cookiecutter's CLI reports it)."""


@cache
def _rules() -> ModuleType:
    """Import the pre-generation hook (its Jinja sits under its __main__ guard only)."""
    spec = importlib.util.spec_from_file_location("_template_answer_rules", RULES)
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with the template
        raise RefusedAnswers(f"{RULES} not found: the template is incomplete")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def checked_answers(answers: Mapping[str, object]) -> Mapping[str, object]:
    """Return ``answers`` unchanged if the hook's rules accept them; else print why and raise."""
    errors = _rules().validate(answers)
    if errors:
        for message in errors:
            print(f"error: {message}", file=sys.stderr)
        raise RefusedAnswers("No project was generated. Fix the answers above and run again.")
    return answers


class CheckedProjectDirectory(Extension):
    """Render the project directory's name only from answers that passed validation.

    Cookiecutter renders the directory name, creates the directory (parents included) and only
    then runs the pre-generation hook. This extension rewrites that one template, the name
    :data:`PROJECT_DIRECTORY`, so that rendering it runs the checks first, whether the answers
    came from prompts, ``--no-input``, extra context or a replay file.
    """

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["checked_answers"] = checked_answers

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        """Swap the project directory's name for its checked form; leave every other source."""
        return CHECKED_PROJECT_DIRECTORY if source == PROJECT_DIRECTORY else source


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
