"""The guards of a release: every refusal raises ReleaseError before any tag is created.

Values from outside (tag names, stages, versions, branch names) are checked against strict
formats before they reach git; a registration needs a clean tree and a passed gate record of
this model; deployments to reviewed stages need required reviewers.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import git
from ..artifacts import display_path
from ..errors import ReleaseError
from ..layout import ArtifactLayout
from .registry import RECORD_FIELDS, SHA256, Version, stages

if TYPE_CHECKING:
    from ..config import Params
    from ..records import ChecksRecord, Lineage  # pydantic: pr_comment imports this module

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - Python 3.10 (tomli comes with bentoml there)
    pass


#: Stages whose GitHub environment must have required reviewers before a tag deploys there.
REVIEWED_STAGES = ("prod",)


#: Tag names this project reads: GTO's characters only (``NAME@vX.Y.Z``, ``NAME#STAGE#N``).
_TAG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/=@#+-]{0,254}$")


#: Branch and ref names this project accepts (a subset of git's rules; never an option).
_REF_NAME = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}$")


#: OWNER/NAME of a GitHub repository.
GITHUB_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")


def ensure_clean(repo: Path) -> str:
    """Return HEAD's sha; refuse a dirty working tree (tracked changes or untracked files)."""
    try:
        head = git.output(repo, "rev-parse", "HEAD", error=ReleaseError)
    except ReleaseError as exc:
        raise ReleaseError(f"{repo} is not a git repository with a commit") from exc
    entries = git.dirty_paths(repo)
    if entries:
        more = f" and {len(entries) - 1} more" if len(entries) > 1 else ""
        raise ReleaseError(
            f"the working tree is dirty ({entries[0][3:]}{more}): "
            "commit or stash first, a version must be a commit"
        )
    return head


def ensure_gates_passed(
    repo: Path, head: str, params: Params, layout: ArtifactLayout | None = None
) -> tuple[Lineage, ChecksRecord]:
    """Return (lineage, checks) of the artifacts; refuse unless they are HEAD's and passed.

    The model, data and params must be the ones lineage.json records
    (:func:`~..pipeline.lineage.ensure_current`), trained on HEAD from a clean tree, and
    checks.json must be the gate record of exactly that run, against the current thresholds, and
    have passed (:func:`~..quality.check_record.ensure_record_current`).
    """
    from ..errors import ArtifactError
    from ..pipeline.lineage import ensure_current
    from ..quality.check_record import ensure_record_current

    layout = layout or ArtifactLayout.of(repo)
    if not layout.lineage.is_file():
        raise ReleaseError(
            f"{display_path(layout.lineage, repo)} not found: run `make train` first"
        )
    if not layout.checks.is_file():
        raise ReleaseError(
            f"{display_path(layout.checks, repo)} not found: run `make check`; no version "
            "without gates"
        )
    from ..records import ChecksRecord

    lineage, checks = ensure_current(params, repo, layout.dir), ChecksRecord.read(layout.checks)
    trained_on = lineage.git.commit
    if trained_on != head:
        raise ReleaseError(
            f"the artifacts were trained on commit {str(trained_on)[:12]}, HEAD is {head[:12]}: "
            "retrain (`make train check`) before registering"
        )
    if lineage.git.dirty:
        raise ReleaseError("the artifacts were trained from a dirty tree: retrain from a commit")
    try:
        ensure_record_current(checks, lineage, params, layout.dir)
    except ArtifactError as exc:
        raise ReleaseError(str(exc)) from None
    return lineage, checks


def ensure_stage(repo: Path, stage: str) -> str:
    """Return ``stage`` if the project's ``.gto`` lists it; refuse anything else."""
    listed = stages(repo)
    if stage not in listed:
        raise ReleaseError(
            f"unknown stage {stage!r} (expected one of {', '.join(listed)}, as listed in .gto)"
        )
    return stage


def ensure_stage_name(stage: str) -> str:
    """Return ``stage`` if it has the form GTO requires of stage names (no repository needed)."""
    from gto.constants import check_string_is_valid

    if not check_string_is_valid(stage):
        raise ReleaseError(f"{stage!r} is not a stage name (letters, digits, _ - / only)")
    return stage


def ensure_tag_name(ref: str) -> str:
    """Return the tag name of ``ref`` (``refs/tags/`` removed); refuse characters GTO never uses.

    A tag name reaches git and GTO as data, never a shell; this also keeps values such as
    ``x`id`@v1`` (a valid git tag name) out of logs and step outputs.
    """
    name = ref.removeprefix("refs/tags/")
    if not _TAG_NAME.fullmatch(name):
        raise ReleaseError(
            f"{ref!r} is not a tag name this project uses (letters, digits and . _ / = @ # + - "
            "only, starting with a letter or digit)"
        )
    return name


def ensure_ref_name(ref: str, what: str = "branch") -> str:
    """Return ``ref`` if it is a plain branch or commit name; refuse options, ``..`` and the like.

    Args:
        ref: e.g. ``main``, ``origin/main`` or a commit sha.
        what: how the message names it (``branch``, ``--base``).
    """
    if not _REF_NAME.fullmatch(ref):
        raise ReleaseError(
            f"{what} {ref!r} is not a branch or commit name this project accepts (letters, "
            "digits and . _ / - only, no '..')"
        )
    return ref


def ensure_registered_with_gates(version: Version) -> Version:
    """Refuse a version whose registration tag does not record a passed, model-bound gate record.

    ``make register`` writes these fields only after :func:`ensure_gates_passed`; a tag created
    any other way (plain GTO, ``git tag``) lacks them and cannot be promoted or deployed. A
    version withdrawn with ``gto deregister`` is refused too.
    """
    if version.deregistered:
        raise ReleaseError(f"{version.version} was deregistered ({version.deregistered})")
    fields = version.fields
    if fields.get("gates") != "passed":
        raise ReleaseError(
            f"{version.tag} does not record passed gates (gates: {fields.get('gates', 'none')})"
        )
    if fields.get("commit") != version.commit:
        raise ReleaseError(f"{version.tag} records commit {fields.get('commit')!r}, not its own")
    missing = [key for key in RECORD_FIELDS if not SHA256.fullmatch(fields.get(key, ""))]
    if missing:
        raise ReleaseError(
            f"{version.tag} records no gate record of its model ({', '.join(missing)} missing): "
            "register versions with `make register`"
        )
    return version


def default_branch(repo: Path) -> str:
    """The default branch: origin's HEAD when git knows it, else ``main``."""
    proc = git.run(repo, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    return proc.stdout.strip().removeprefix("origin/") if proc.returncode == 0 else "main"


def ensure_on_branch(repo: Path, commit: str, branch: str) -> None:
    """Refuse ``commit`` unless it is reachable from ``branch`` (origin's copy when fetched)."""
    ensure_ref_name(branch)
    for ref in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"):
        if not git.ok(repo, "rev-parse", "--verify", "--quiet", ref):
            continue
        if git.ok(repo, "merge-base", "--is-ancestor", commit, ref):
            return
        raise ReleaseError(
            f"commit {commit[:12]} is not on the default branch {branch}: only versions "
            f"registered from {branch} are released"
        )
    raise ReleaseError(f"the default branch {branch} is not known here (git fetch origin {branch})")


def missing_reviewers(stage: str, environment: dict[str, Any] | None) -> str | None:
    """Why a deployment to ``stage`` would not wait for a reviewer, or None when it would.

    Args:
        stage: the stage the tag assigns.
        environment: GitHub's ``GET /repos/OWNER/REPO/environments/STAGE`` document, or None
            when the environment does not exist (a job naming it would create it, unprotected).
    """
    if stage not in REVIEWED_STAGES:
        return None
    where = f"Settings > Environments > {stage}"
    if environment is None:
        return (
            f"the {stage} environment does not exist: create it with required reviewers ({where})"
        )
    rules = environment.get("protection_rules") or []
    reviewers = [
        reviewer
        for rule in rules
        if rule.get("type") == "required_reviewers"
        for reviewer in rule.get("reviewers") or []
    ]
    if not reviewers:
        return f"the {stage} environment has no required reviewers: add them ({where})"
    return None
