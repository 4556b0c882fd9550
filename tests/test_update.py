"""Template updates: a project baked from one template commit takes a later one with `make update`.

The template is a git repository of its own in a temporary directory (a copy of this working
tree), so the test can commit changes to it. The project is baked from it, edits its own files,
then runs `make update` on a bare PATH: the template's change arrives, the project's edits stay,
and a change that collides with one of them is a reported conflict with both sides kept.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from conftest import TEMPLATE, Baked, bare_env

pytestmark = pytest.mark.e2e


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=path, capture_output=True, text=True, check=True
    ).stdout.strip()


def template_repository(path: Path) -> Path:
    """Copy this working tree's template files (ignored files left out) into a new repository."""
    listed = git(TEMPLATE, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    for rel in filter(None, listed.split("\0")):
        if (TEMPLATE / rel).is_file():
            (path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE / rel, path / rel)
    git(path, "init", "--quiet", "-b", "main")
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", "template A")
    return path


def commit_template_change(template: Path, rel: str, old: str, new: str) -> str:
    """Replace ``old`` by ``new`` in a file of the generated project's template; commit it."""
    path = template / "{{cookiecutter.project_slug}}" / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    git(template, "commit", "--quiet", "-am", f"template: change {rel}")
    return git(template, "rev-parse", "HEAD")


def update(project: Baked) -> subprocess.CompletedProcess:
    return project.run("make", "update", check=False, env=bare_env(), timeout=600)


def test_make_update_merges_template_changes_and_keeps_the_projects_own(tmp_path: Path) -> None:
    template = template_repository(tmp_path / "template")
    first = git(template, "rev-parse", "HEAD")
    path = cookiecutter(str(template), no_input=True, output_dir=str(tmp_path / "out"))
    project = Baked(Path(path))
    record = json.loads((project.path / ".cruft.json").read_text())
    assert (record["template"], record["commit"]) == (str(template), first)

    # The project's own edits, committed.
    readme = project.path / "README.md"
    readme.write_text(readme.read_text() + "\n## Our notes\n\nKept across updates.\n")
    gitignore = project.path / ".gitignore"
    gitignore.write_text(gitignore.read_text().replace("build/\n", "build/\nscratch/\n"))
    git(project.path, "commit", "--quiet", "-am", "Our own changes")

    # A template change in lines the project did not touch: merged, the project's edits kept.
    second = commit_template_change(
        template, ".gitignore", ".idea/\n", ".idea/\n.ipynb_checkpoints/\n"
    )
    result = update(project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert ".ipynb_checkpoints/" in gitignore.read_text()
    assert "scratch/" in gitignore.read_text()
    assert "Kept across updates." in readme.read_text()
    assert json.loads((project.path / ".cruft.json").read_text())["commit"] == second
    changed = set(git(project.path, "diff", "HEAD", "--name-only").splitlines())
    assert changed == {".gitignore", ".cruft.json"}, "uv.lock re-locked to the same versions"
    git(project.path, "commit", "--quiet", "-am", "Update from the template")

    # A template change to a line the project changed too: a conflict, reported; nothing lost.
    commit_template_change(template, ".gitignore", "build/\n", "build/\nnotebooks/\n")
    result = update(project)
    assert result.returncode != 0
    assert "conflicts with changes of this project in:\n.gitignore" in result.stderr
    text = gitignore.read_text()
    assert "<<<<<<<" in text
    assert "scratch/" in text
    assert "notebooks/" in text
