"""Finish the generated project: prune unchosen options, save the answers, git init, next steps.

Cookiecutter renders this file with Jinja and runs it inside the new project directory. The
steps are plain functions so that the template's tests can import and exercise them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ANSWERS_FILE = ".cookiecutter.json"
LICENSES_DIR = "licenses"


def choose_license(project: Path, license_name: str) -> None:
    """Move the chosen license text to LICENSE and drop the other texts."""
    licenses = project / LICENSES_DIR
    (licenses / f"{license_name}.txt").replace(project / "LICENSE")
    shutil.rmtree(licenses)


def prune_deploy_target(project: Path, deploy_target: str) -> None:
    """Remove the Kubernetes manifests when the project deploys to no cluster."""
    if deploy_target == "none":
        shutil.rmtree(project / "deploy", ignore_errors=True)


def save_answers(project: Path, answers: Mapping[str, object]) -> Path:
    """Write the user's answers as a cookiecutter replay file and return its path.

    Private variables (``_...``: pins and settings) are left out on purpose: a later replay or
    update then takes them from the newer template. ``_template`` records where the project came
    from.
    """
    kept = {k: v for k, v in answers.items() if not k.startswith("_")}
    kept["_template"] = answers.get("_template", "")
    path = project / ANSWERS_FILE
    path.write_text(json.dumps({"cookiecutter": kept}, indent=2, sort_keys=True) + "\n")
    return path


def _git(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=False)


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
    save_answers(project, answers)
    status = init_git(project) if answers["git_init"] else "Skipped `git init` (git_init=no)."
    print(status)
    print(next_steps(project, answers))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | jsonify }}""")))
