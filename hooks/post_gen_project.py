"""Finish the generated project: prune options, name it in uv.lock, record its template, git init.

Cookiecutter renders this file with Jinja and runs it inside the new project directory; when it
exits non-zero, cookiecutter deletes that directory. cruft (`make update`) renders the template
through this hook too, into scratch directories: then only the steps that shape files run. The
steps are plain functions so that the template's tests can import and exercise them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

CRUFT_FILE = ".cruft.json"
LICENSES_DIR = "licenses"
LOCK_FILE = "uv.lock"
#: Files `make update` does not merge from the template: the lock is re-resolved instead.
UPDATE_SKIPS = (LOCK_FILE,)
PACKAGE_SEPARATOR = "\n[[package]]\n"
PROJECT_SOURCE = 'source = { editable = "." }'
NAME_LINE = re.compile(r'^name = "([^"]+)"$', re.MULTILINE)


def choose_license(project: Path, license_name: str) -> None:
    """Move the chosen license text to LICENSE and drop the other texts."""
    licenses = project / LICENSES_DIR
    (licenses / f"{license_name}.txt").replace(project / "LICENSE")
    shutil.rmtree(licenses)


def prune_deploy_target(project: Path, deploy_target: str) -> None:
    """Remove the Kubernetes manifests when the project deploys to no cluster."""
    if deploy_target == "none":
        shutil.rmtree(project / "deploy", ignore_errors=True)


#: The tests that need MLflow installed (the `tracking` dependency group).
TRACKING_TESTS = "tests/code/test_tracking.py"


def prune_experiment_tracking(project: Path, experiment_tracking: str) -> None:
    """Remove the tests of experiment tracking when the project does not install MLflow."""
    if experiment_tracking == "none":
        (project / TRACKING_TESTS).unlink(missing_ok=True)


def name_locked_project(project: Path, slug: str) -> None:
    """Give the project's own entry in the shipped uv.lock this project's name.

    The template ships the lock of its default project (tested by the template's CI), so a new
    project installs exactly those versions, offline and at once. uv keeps packages sorted by
    name: the renamed entry moves to its place, so the file is what `uv lock` itself would write.

    Raises:
        ValueError: If ``slug`` is the name of a package the project depends on (uv refuses a
            project that shadows one of its dependencies).
    """
    lock = project / LOCK_FILE
    header, *packages = lock.read_text(encoding="utf-8").split(PACKAGE_SEPARATOR)
    (own,) = [p for p in packages if PROJECT_SOURCE in p.splitlines()]
    others = [p for p in packages if p is not own]
    names = [_package_name(p) for p in others]
    if slug in names:
        msg = (
            f"project_slug {slug!r}: is the name of a package the project depends on "
            "(see uv.lock); choose another"
        )
        raise ValueError(msg)
    own = NAME_LINE.sub(f'name = "{slug}"', own, count=1)
    at = next((i for i, name in enumerate(names) if name > slug), len(others))
    packages = [*others[:at], own, *others[at:]]
    lock.write_text(PACKAGE_SEPARATOR.join([header, *packages]), encoding="utf-8")


def _package_name(block: str) -> str:
    match = NAME_LINE.search(block)
    if match is None:
        msg = f"{LOCK_FILE}: a [[package]] without a name"
        raise ValueError(msg)
    return match.group(1)


def rendered_by_cruft(answers: Mapping[str, object]) -> bool:
    """Return True when cruft renders the template (it adds ``_commit``; cookiecutter does not)."""
    return "_commit" in answers


def _git(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=False)


def resolve_template(template: str, repo_dir: str, cwd: Path) -> tuple[str, Path]:
    """Return the template's address for later updates and the checkout it was rendered from.

    Cookiecutter records both as typed, relative to where it ran (``cwd``): a local path is made
    absolute; an abbreviation such as ``gh:owner/name`` becomes the URL it stands for (the
    checkout is then cookiecutter's own clone, ``repo_dir``).
    """
    from cookiecutter.config import get_user_config
    from cookiecutter.repository import expand_abbreviations, is_repo_url

    url = expand_abbreviations(template, get_user_config()["abbreviations"])
    checkout = (cwd / Path(repo_dir).expanduser()).resolve()
    return (url if is_repo_url(url) else str(checkout)), checkout


def write_cruft_record(project: Path, answers: Mapping[str, object]) -> str:
    """Record the template and its commit in .cruft.json, for `make update`; return a status.

    The answers are kept without the private variables (``_...``: pins and settings), so that an
    update takes those from the newer template.
    """
    template = str(answers.get("_template", ""))
    # cookiecutter runs this hook in the project directory; PWD is still where it was started.
    cwd = Path(os.environ.get("PWD") or Path.cwd())
    url, checkout = resolve_template(template, str(answers.get("_repo_dir", "")), cwd)
    commit = _git(checkout, "rev-parse", "HEAD").stdout.strip() if checkout.is_dir() else ""
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        return (
            f"No {CRUFT_FILE}: the template {template!r} is not a git checkout here, so "
            "`make update` cannot follow it; link it later with `cruft link <template url>`."
        )
    context = {k: v for k, v in answers.items() if not k.startswith("_")}
    context |= {"_template": url, "_commit": commit}
    record = {
        "template": url,
        "commit": commit,
        "checkout": answers.get("_checkout"),
        "context": {"cookiecutter": context},
        "directory": None,
        "skip": list(UPDATE_SKIPS),
    }
    text = json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (project / CRUFT_FILE).write_text(text, encoding="utf-8")
    dirty = _git(checkout, "status", "--porcelain", "--untracked-files=no").stdout.strip()
    note = " (its checkout has uncommitted changes, which that commit lacks)" if dirty else ""
    return f"Recorded template {url} at {commit[:12]} in {CRUFT_FILE}{note}."


def git_identity_configured(project: Path) -> bool:
    """Return True when git knows who commits (user.name and user.email are set)."""
    return all(_git(project, "config", key).stdout.strip() for key in ("user.name", "user.email"))


def init_git(project: Path) -> str:
    """Initialise a repository on ``main``, with a first commit when possible; return a status."""
    if shutil.which("git") is None:
        return "git is not installed: skipped `git init`."
    init = _git(project, "init", "--quiet", "--initial-branch=main")
    if init.returncode != 0:
        return f"`git init` failed: {init.stderr.strip()}"
    _git(project, "add", "--all")
    if not git_identity_configured(project):
        return (
            "Initialised a git repository on 'main' with the files staged. No first commit: "
            "git does not know who you are. Run `git config --global user.name 'Your Name'` "
            "and `git config --global user.email you@example.com`, then "
            "`git commit -m 'Initial commit'`."
        )
    commit = _git(project, "commit", "--quiet", "-m", "Initial commit from cookiecutter-gitops-ml")
    if commit.returncode != 0:
        return f"Initialised git on 'main'; the first commit failed: {commit.stderr.strip()}"
    return "Initialised a git repository on 'main' with a first commit."


def next_steps(project: Path, answers: Mapping[str, object]) -> str:
    """Return the short guide printed after generation."""
    return "\n".join(
        [
            f"Created {answers['project_name']} in {project}",
            "",
            "Next steps:",
            f"  cd {answers['project_slug']}",
            "  make install     # locked environment (bootstraps uv if needed)",
            "  make train       # sample data -> model, metrics, plots, lineage",
            "  make test        # code, data, model and service tests",
            "  make pre-commit  # install the git hook and check every file",
            "  make help        # every other command",
            "",
            f"Then push to github.com/{answers['github_owner']}/{answers['project_slug']}: "
            "pull requests get a model report, merges deploy to staging, tags promote.",
        ]
    )


def main(answers: Mapping[str, object]) -> int:
    """Run every post-generation step in the current (new project) directory."""
    project = Path.cwd()
    choose_license(project, str(answers["license"]))
    prune_deploy_target(project, str(answers["deploy_target"]))
    prune_experiment_tracking(project, str(answers["experiment_tracking"]))
    try:
        name_locked_project(project, str(answers["project_slug"]))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        print("No project was generated. Fix the answer above and run again.", file=sys.stderr)
        return 1
    if rendered_by_cruft(answers):
        return 0
    print(write_cruft_record(project, answers))
    print(init_git(project) if answers["git_init"] else "Skipped `git init` (git_init=no).")
    print(next_steps(project, answers))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | jsonify }}""")))
