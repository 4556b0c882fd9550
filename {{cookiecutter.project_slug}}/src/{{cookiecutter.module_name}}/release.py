"""Versions and stages of the model as git tags (GTO), with the guards around them.

The state of the registry lives in git tags only, as GTO writes them:

- ``NAME@vX.Y.Z`` (annotated) registers version ``vX.Y.Z`` of the model at a commit. Its message
  carries ``key: value`` lines, among them ``image: REPO@sha256:...``: the container image built
  from that commit. That line is the version -> image digest mapping.
- ``NAME#STAGE#N`` (annotated) assigns a registered version to ``staging`` or ``prod``. ``N``
  increases with every assignment of the model, so the latest ``N`` of a stage says what runs
  there, and the one before it is where a rollback goes.

So ``git fetch --tags`` is enough to tell which image runs in which environment. GTO creates the
tags (``gto.api``) and reads them (``gto show``, ``gto check-ref``); this module adds the guards
(clean tree, passed gates, increasing semver, known stage, registered version). Every refusal
raises ``ReleaseError`` before any tag is created. The model card is rendered by
:mod:`.model_card`; deployment and publishing live in :mod:`.deploy`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .artifacts import read_json
from .errors import ProjectError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (tomli comes with bentoml there)
    import tomli as tomllib

STAGES = ("staging", "prod")
ARTIFACTS = Path("artifacts")
LINEAGE = ARTIFACTS / "lineage.json"
CHECKS = ARTIFACTS / "checks.json"
IMAGE = ARTIFACTS / "image.json"
_SEMVER = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
BUMPS = ("major", "minor", "patch")


class ReleaseError(ProjectError):
    """A release command refused to act; the message says why and what to do."""


@dataclass(frozen=True)
class Version:
    """A registered version: its tag, commit and the key: value lines of its tag message."""

    version: str
    tag: str
    commit: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def image(self) -> str | None:
        """The container image (by digest) recorded at registration, if any."""
        return self.fields.get("image")


@dataclass(frozen=True)
class Assignment:
    """One ``NAME#STAGE#N`` tag."""

    number: int
    stage: str
    version: str
    tag: str


@dataclass
class State:
    """The registry of one model, read from the git tags."""

    name: str
    versions: dict[str, Version]
    assignments: list[Assignment]

    def latest(self) -> Version | None:
        """Return the highest registered version."""
        if not self.versions:
            return None
        return self.versions[max(self.versions, key=parse_semver)]

    def history(self, stage: str) -> list[Assignment]:
        """Return the assignments of ``stage``, oldest first."""
        return [a for a in self.assignments if a.stage == stage]

    def current(self, stage: str) -> Assignment | None:
        """Return the assignment in effect in ``stage`` (the last one), if any."""
        history = self.history(stage)
        return history[-1] if history else None


# --------------------------------------------------------------------------- helpers


def _git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` and return its stripped stdout; raise ReleaseError on failure."""
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise ReleaseError(f"git {args[0]} failed: {detail[-1] if detail else proc.returncode}")
    return proc.stdout.strip()


def project_metadata(repo: Path) -> dict[str, Any]:
    """Return ``[project]`` of the repository's pyproject.toml (name, description, ...)."""
    path = repo / "pyproject.toml"
    if not path.is_file():
        raise ReleaseError(f"{path} not found: run release commands from the project root")
    with path.open("rb") as handle:
        return tomllib.load(handle).get("project", {})


def model_name(repo: Path) -> str:
    """Return the model's name: the project's distribution name (pyproject [project].name).

    It is the same value that training writes as lineage ``model_name``; pyproject is read so that
    commands that do not train (promote, rollback, status, check-ref) find it too.
    """
    name = project_metadata(repo).get("name")
    if not name:
        raise ReleaseError("pyproject.toml has no [project].name: it is the model's name")
    return str(name)


def parse_semver(version: str) -> tuple[int, int, int]:
    """Return (major, minor, patch) of ``vX.Y.Z`` or ``X.Y.Z``; raise ReleaseError otherwise."""
    match = _SEMVER.match(version)
    if not match:
        raise ReleaseError(f"version {version!r} is not semantic (expected vMAJOR.MINOR.PATCH)")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def bump(version: str | None, part: str = "patch") -> str:
    """Return the version after ``version`` with ``part`` bumped (``v0.1.0`` when there is none)."""
    if part not in BUMPS:
        raise ReleaseError(f"unknown version part {part!r} (expected one of {', '.join(BUMPS)})")
    if version is None:
        return "v0.1.0"
    major, minor, patch = parse_semver(version)
    if part == "major":
        return f"v{major + 1}.0.0"
    if part == "minor":
        return f"v{major}.{minor + 1}.0"
    return f"v{major}.{minor}.{patch + 1}"


def _parse_fields(message: str) -> dict[str, str]:
    """Return the ``key: value`` lines of a tag message (the first line is a title)."""
    fields = {}
    for line in message.splitlines()[1:]:
        key, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"[a-z0-9-]+", key):
            fields[key] = value.strip()
    return fields


def read_state(repo: Path, name: str | None = None) -> State:
    """Read the versions and stage assignments of the model from the repository's tags."""
    from gto.tag import parse_name  # GTO's own tag grammar, so both always agree

    name = name or model_name(repo)
    raw = _git(
        repo,
        "for-each-ref",
        "refs/tags",
        "--format=%(refname:strip=2)%00%(*objectname)%00%(objectname)%00%(contents)%00%00",
    )
    versions: dict[str, Version] = {}
    assignments: list[Assignment] = []
    for record in raw.split("\0\0"):
        parts = record.strip("\n").split("\0")
        if len(parts) < 4 or not parts[0]:
            continue
        tag, peeled, obj, message = parts[0], parts[1], parts[2], parts[3]
        parsed = parse_name(tag, raise_on_fail=False)
        if not parsed or parsed["name"] != name:
            continue
        if "stage" in parsed and "counter" in parsed:
            continue  # resolved below, once every version is known
        if "version" in parsed and "stage" not in parsed:
            versions[parsed["version"]] = Version(
                parsed["version"], tag, peeled or obj, _parse_fields(message)
            )
    for record in raw.split("\0\0"):
        parts = record.strip("\n").split("\0")
        if len(parts) < 4 or not parts[0]:
            continue
        parsed = parse_name(parts[0], raise_on_fail=False)
        if not parsed or parsed["name"] != name or "stage" not in parsed:
            continue
        commit = parts[1] or parts[2]
        version = next((v.version for v in versions.values() if v.commit == commit), None)
        if version is None or "counter" not in parsed:
            continue  # not written by this module (unregistered commit or simple notation)
        assignments.append(Assignment(parsed["counter"], parsed["stage"], version, parts[0]))
    assignments.sort(key=lambda a: a.number)
    return State(name, versions, assignments)


def _tag_exists(repo: Path, tag: str) -> bool:
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}"],
        cwd=repo,
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def _push(repo: Path, tag: str) -> None:
    """Push one tag to origin; delete the local tag if the push fails (nothing left behind)."""
    proc = subprocess.run(
        ["git", "push", "--quiet", "origin", f"refs/tags/{tag}"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        subprocess.run(["git", "tag", "-d", tag], cwd=repo, capture_output=True, check=False)
        lines = proc.stderr.strip().splitlines()
        raise ReleaseError(f"could not push {tag} to origin: {lines[-1] if lines else 'failed'}")


def _gto_call(func: Any, **kwargs: Any) -> None:  # noqa: ANN401 - any GTO api function
    """Call a GTO api function, turning its exceptions into one-line ReleaseErrors."""
    from gto.exceptions import GTOException

    try:
        func(**kwargs)
    except GTOException as exc:
        raise ReleaseError(str(exc).strip().splitlines()[0].lstrip("❌ ")) from exc


# --------------------------------------------------------------------------- guards


def ensure_clean(repo: Path) -> str:
    """Return HEAD's sha; refuse a dirty working tree (tracked changes or untracked files)."""
    try:
        head = _git(repo, "rev-parse", "HEAD")
    except ReleaseError as exc:
        raise ReleaseError(f"{repo} is not a git repository with a commit") from exc
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "-z"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    if dirty:
        entries = [entry for entry in dirty.split("\0") if entry]
        more = f" and {len(entries) - 1} more" if len(entries) > 1 else ""
        raise ReleaseError(
            f"the working tree is dirty ({entries[0][3:]}{more}): "
            "commit or stash first, a version must be a commit"
        )
    return head


def ensure_gates_passed(repo: Path, head: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (lineage, checks) of the artifacts; refuse unless they come from HEAD and passed."""
    lineage_path, checks_path = repo / LINEAGE, repo / CHECKS
    if not lineage_path.is_file():
        raise ReleaseError(f"{LINEAGE} not found: run `make train` first")
    if not checks_path.is_file():
        raise ReleaseError(f"{CHECKS} not found: run `make check`; no version without gates")
    lineage, checks = read_json(lineage_path), read_json(checks_path)
    trained_on = (lineage.get("git") or {}).get("commit")
    if trained_on != head:
        raise ReleaseError(
            f"the artifacts were trained on commit {str(trained_on)[:12]}, HEAD is {head[:12]}: "
            "retrain (`make train check`) before registering"
        )
    if (lineage.get("git") or {}).get("dirty"):
        raise ReleaseError("the artifacts were trained from a dirty tree: retrain from a commit")
    if checks.get("passed") is not True:
        failed = [g.get("name", "?") for g in checks.get("gates", []) if not g.get("passed")]
        which = f": {', '.join(failed)}" if failed else ""
        raise ReleaseError(f"the gates did not pass{which} (see artifacts/checks.html)")
    return lineage, checks


def ensure_stage(stage: str) -> str:
    """Return ``stage`` if it is one of STAGES; refuse anything else."""
    if stage not in STAGES:
        raise ReleaseError(f"unknown stage {stage!r} (expected one of {', '.join(STAGES)})")
    return stage


# --------------------------------------------------------------------------- commands


def register(
    repo: Path,
    version: str | None = None,
    part: str = "patch",
    image: str | None = None,
    push: bool = False,
) -> Version:
    """Register HEAD as a new version of the model (tag ``NAME@vX.Y.Z``).

    Refuses a dirty tree, artifacts that are not from HEAD or whose gates failed, a version that
    is not semver or not higher than every registered one, and an existing tag. The tag message
    records the commit, model and data fingerprints, the metrics and the image (from ``image`` or
    artifacts/image.json when it exists).
    """
    from gto import api

    head = ensure_clean(repo)
    lineage, checks = ensure_gates_passed(repo, head)
    state = read_state(repo)
    latest = state.latest()
    if version is None:
        version = bump(latest.version if latest else None, part)
    else:
        parse_semver(version)
        version = version if version.startswith("v") else f"v{version}"
    tag = f"{state.name}@{version}"
    if _tag_exists(repo, tag):
        raise ReleaseError(f"tag {tag} already exists")
    if latest and parse_semver(version) <= parse_semver(latest.version):
        raise ReleaseError(
            f"version {version} is not higher than the latest registered {latest.version}"
        )
    registered_here = [v.version for v in state.versions.values() if v.commit == head]
    if registered_here:
        raise ReleaseError(f"commit {head[:12]} is already registered as {registered_here[0]}")
    if image is None and (repo / IMAGE).is_file():
        image = read_json(repo / IMAGE).get("ref")
    fields = {
        "commit": head,
        "image": image or "none",
        "model-sha256": (lineage.get("model") or {}).get("sha256", "unknown"),
        "data-sha256": (lineage.get("data") or {}).get("sha256", "unknown"),
        "gates": "passed" if checks.get("passed") else "failed",
        "metrics": json.dumps((lineage.get("metrics") or {}).get("test", {}), sort_keys=True),
    }
    message = f"Register {state.name} {version}\n\n" + "".join(
        f"{key}: {value}\n" for key, value in fields.items()
    )
    _gto_call(
        api.register, repo=str(repo), name=state.name, ref=head, version=version, message=message
    )
    if push:
        _push(repo, tag)
    return Version(version, tag, head, fields)


def promote(repo: Path, version: str, stage: str, push: bool = False) -> Assignment:
    """Assign a registered ``version`` to ``stage`` (tag ``NAME#STAGE#N``)."""
    from gto import api

    ensure_stage(stage)
    parse_semver(version)
    version = version if version.startswith("v") else f"v{version}"
    state = read_state(repo)
    if version not in state.versions:
        known = ", ".join(sorted(state.versions, key=parse_semver)) or "none"
        raise ReleaseError(f"version {version} is not registered (registered: {known})")
    current = state.current(stage)
    if current and current.version == version:
        raise ReleaseError(f"{version} is already in {stage} ({current.tag})")
    message = f"Assign {state.name} {version} to {stage}\n\nimage: "
    message += state.versions[version].image or "none"
    # GTO keeps a version's earlier assignment active: re-assigning it (a rollback) needs force.
    again = any(a.version == version for a in state.history(stage))
    _gto_call(
        api.assign,
        repo=str(repo),
        name=state.name,
        stage=stage,
        version=version,
        message=message,
        force=again,
    )
    new = read_state(repo, state.name).current(stage)
    if new is None or new.version != version:  # pragma: no cover - GTO contract
        raise ReleaseError(f"GTO did not record {version} in {stage}")
    if push:
        _push(repo, new.tag)
    return new


def previous_version(state: State, stage: str) -> tuple[str, str]:
    """Return (current, previous) versions of ``stage``: previous is the one in it before."""
    ensure_stage(stage)
    history = state.history(stage)
    if not history:
        raise ReleaseError(f"nothing to roll back: no version was ever assigned to {stage}")
    current = history[-1].version
    for assignment in reversed(history):
        if assignment.version != current:
            return current, assignment.version
    raise ReleaseError(f"nothing to roll back to: {stage} has only ever run {current}")


def rollback(repo: Path, stage: str, push: bool = False) -> tuple[str, Assignment]:
    """Assign to ``stage`` the version it ran before the current one; return (from, assignment)."""
    current, previous = previous_version(read_state(repo), stage)
    return current, promote(repo, previous, stage, push=push)


def check_ref(repo: Path, ref: str) -> dict[str, str]:
    """Decide what a pushed tag means for the release workflow, with ``gto check-ref``.

    Returns ``event`` (``registration``, ``assignment`` or ``none``), ``name``, ``version``,
    ``stage`` and ``tag``, all strings (empty when not applicable). A ref that GTO does not
    recognise, or a tag of another artifact, is ``none``: the workflow then does nothing.
    """
    from gto import api
    from gto.exceptions import GTOException

    ref = ref.removeprefix("refs/tags/")
    decision = {"event": "none", "name": "", "version": "", "stage": "", "tag": ref}
    try:
        events = api.check_ref(str(repo), ref)
    except GTOException:  # a ref GTO cannot read is simply not a release event
        return decision
    name = model_name(repo)
    for event in events:
        if event.artifact != name:
            continue
        kind = type(event).__name__.lower()
        if kind in {"registration", "assignment"}:
            decision.update(event=kind, name=name, version=event.version)
            decision["stage"] = getattr(event, "stage", "") or ""
            if decision["stage"] and decision["stage"] not in STAGES:
                decision.update(event="none")  # a stage this project does not deploy
    return decision


def status(repo: Path) -> str:
    """Return a table of what runs where: stage, version, assignment tag, image."""
    state = read_state(repo)
    latest = state.latest()
    lines = [f"model {state.name}: latest {latest.version if latest else 'none registered'}"]
    lines.append(f"{'stage':<8} {'version':<10} {'tag':<30} image")
    for stage in STAGES:
        current = state.current(stage)
        if current is None:
            lines.append(f"{stage:<8} {'-':<10} {'-':<30} -")
            continue
        image = state.versions[current.version].image or "none"
        lines.append(f"{stage:<8} {current.version:<10} {current.tag:<30} {image}")
    return "\n".join(lines)
