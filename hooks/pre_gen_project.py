"""Validate the template answers: the one set of rules, run before cookiecutter writes anything.

`validate` runs first while cookiecutter renders the project directory's name, before it
creates that directory (`local_extensions.CheckedProjectDirectory`): a slug such as `a/b` or
`../../x/y` must not leave parent folders behind, and cookiecutter runs this hook only after the
directory exists. Run as the hook, it checks the same answers again (a template bake without the
extension, e.g. an older cruft record, still refuses them). The rules live in plain functions so
that the extension and the template's tests can import and exercise them.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Callable, Mapping
from email.errors import HeaderParseError, MessageDefect
from email.headerregistry import Address

# PEP 503-normalised distribution name that also yields a valid module name when '-' becomes '_'.
SLUG_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
MODULE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
# GitHub: 1-39 alphanumerics or single hyphens, neither first nor last.
GITHUB_OWNER_RE = re.compile(r"^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}$")

# Import names of the generated project's dependencies and of its test tooling: a package with
# one of these names would shadow the real one.
DEPENDENCY_MODULES = frozenset(
    {
        "bentoml", "deepchecks", "gto", "joblib", "matplotlib", "numpy", "pandas", "plotly",
        "pydantic", "yaml", "sklearn", "scipy", "setuptools", "pkg_resources", "hypothesis",
        "pytest", "ruff", "pre_commit", "tests", "test", "src", "conftest", "benchmarks",
    }
)  # fmt: skip


def _stdlib_modules() -> frozenset[str]:
    """Return the standard library's top-level module names (3.10+ knows them)."""
    return frozenset(sys.stdlib_module_names)


def check_slug(slug: str) -> str | None:
    """Return why ``slug`` is not a usable distribution/repository name, or None."""
    if not SLUG_RE.fullmatch(slug):
        return (
            f"project_slug {slug!r}: use lowercase letters, digits and single hyphens, "
            "starting with a letter (e.g. 'churn-model')"
        )
    return None


def check_module(module: str) -> str | None:
    """Return why ``module`` is not a safe import name for the generated package, or None."""
    if not MODULE_RE.fullmatch(module) or not module.isidentifier():
        return (
            f"module_name {module!r}: use lowercase letters, digits and underscores, "
            "starting with a letter (e.g. 'churn_model')"
        )
    if keyword.iskeyword(module) or keyword.issoftkeyword(module):
        return f"module_name {module!r}: is a Python keyword"
    if module in _stdlib_modules():
        return f"module_name {module!r}: shadows the standard library module of that name"
    if module in DEPENDENCY_MODULES:
        return f"module_name {module!r}: shadows the import name of a dependency or tool"
    return None


def check_email(email: str) -> str | None:
    """Return why ``email`` cannot be the author's address in the package metadata, or None.

    The build backend parses the address with the standard library's email package, which
    refuses, for instance, a local part (before the @) with non-ASCII letters.
    """
    if not EMAIL_RE.fullmatch(email):
        return f"author_email {email!r}: expected an address like 'name@example.com'"
    if not email.rpartition("@")[0].isascii():
        return f"author_email {email!r}: the part before the @ must be ASCII in package metadata"
    try:
        parsed = Address(addr_spec=email)
    except (HeaderParseError, MessageDefect, IndexError, ValueError) as error:
        return f"author_email {email!r}: not usable in package metadata: {error}"
    if parsed.addr_spec != email:
        return f"author_email {email!r}: not a plain address (it reads as {parsed.addr_spec!r})"
    return None


def check_github_owner(owner: str) -> str | None:
    """Return why ``owner`` cannot be a GitHub user or organisation name, or None."""
    if not GITHUB_OWNER_RE.fullmatch(owner):
        return (
            f"github_owner {owner!r}: 1-39 letters, digits or single hyphens, "
            "not starting or ending with a hyphen"
        )
    return None


def check_one_line(field: str, value: str) -> str | None:
    """Return why a free-text answer is unusable, or None.

    It must be one line of printable text without leading or trailing spaces: it lands in TOML,
    YAML and Markdown (each escaped for its format), where a control character, a line break or
    an indentation would change what the file says.
    """
    if not value.strip():
        return f"{field}: must not be empty"
    if "\n" in value or "\r" in value:
        return f"{field}: must be a single line"
    if value != value.strip():
        return f"{field}: must not start or end with spaces"
    if unprintable := next((c for c in value if not c.isprintable()), None):
        return f"{field}: contains the unprintable character U+{ord(unprintable):04X}"
    return None


def check_choice(field: str, value: object, allowed: list[str]) -> str | None:
    """Return why ``value`` is not one of ``allowed``, or None."""
    if value not in allowed:
        return f"{field} {value!r}: choose one of {', '.join(allowed)}"
    return None


def validate(answers: Mapping[str, object]) -> list[str]:
    """Return one message per invalid answer; an empty list means every answer is valid."""
    supported = [str(v) for v in answers.get("_supported_python", [])]
    checks: list[Callable[[], str | None]] = [
        lambda: check_one_line("project_name", str(answers["project_name"])),
        lambda: check_slug(str(answers["project_slug"])),
        lambda: check_module(str(answers["module_name"])),
        lambda: check_one_line("description", str(answers["description"])),
        lambda: check_one_line("author_name", str(answers["author_name"])),
        lambda: check_email(str(answers["author_email"])),
        lambda: check_github_owner(str(answers["github_owner"])),
        lambda: check_choice("python_version", str(answers["python_version"]), supported),
        lambda: check_choice("task", answers["task"], ["classification", "regression"]),
        lambda: check_choice(
            "license", answers["license"], ["MIT", "Apache-2.0", "BSD-3-Clause", "proprietary"]
        ),
        lambda: check_choice("deploy_target", answers["deploy_target"], ["kubernetes", "none"]),
        lambda: check_choice("report_images", answers["report_images"], ["artifact", "publish"]),
        lambda: check_choice(
            "experiment_tracking", answers["experiment_tracking"], ["mlflow", "none"]
        ),
    ]
    return [message for check in checks if (message := check()) is not None]


def main(answers: Mapping[str, object]) -> int:
    """Print every invalid answer on its own line; return the process exit code."""
    errors = validate(answers)
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    if errors:
        print("No project was generated. Fix the answers above and run again.", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | jsonify }}""")))
