"""Versions and stages of the model as git tags (GTO), with the guards around them.

The state of the registry lives in git tags only, as GTO writes them:

- ``NAME@vX.Y.Z`` (annotated) registers version ``vX.Y.Z`` of the model at a commit. Its message
  carries ``key: value`` lines, among them ``image: REPO@sha256:...``: the container image built
  from that commit. That line is the version -> image digest mapping.
- ``NAME#STAGE#N`` (annotated) assigns a registered version to a stage listed in ``.gto``
  (``staging``, ``prod``). ``N`` increases with every assignment of the model, so the latest
  ``N`` of a stage says what runs there.

So ``git fetch --tags`` is enough to tell which image runs in which environment. GTO does the
tag work: it creates the tags (``gto.api.register``/``assign``), reads them into its registry
state (versions, registrations, assignments, their messages), parses tag names
(``gto.tag.parse_name``) and versions (``gto.versions.SemVer``: validation, order, bumps), and
holds the stages (``gto.config``, read from ``.gto``). This module adds the guards (clean tree,
a gate record that belongs to the model and passed, increasing versions, registered version, a
commit of the default branch) and the rollback rule (:meth:`State.stack`). Every refusal raises
``ReleaseError`` before any tag is created. Values from outside (tag names, stages, versions,
branch names) are checked against strict formats before they reach git. The model card is
rendered by :mod:`.model_card`; deployment and publishing live in :mod:`.deploy`.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import git
from .artifacts import display_path, sha256_file
from .errors import ReleaseError
from .layout import ArtifactLayout

if TYPE_CHECKING:
    from gto.config import RegistryConfig
    from gto.versions import SemVer

    from .config import Params
    from .records import ChecksRecord, Lineage  # pydantic: pr_comment imports this module

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (tomli comes with bentoml there)
    import tomli as tomllib

#: Stages whose GitHub environment must have required reviewers before a tag deploys there.
REVIEWED_STAGES = ("prod",)
BUMPS = ("major", "minor", "patch")
#: The version a model's first registration gets (GTO's own default would be v0.0.1).
FIRST_VERSION = "v0.1.0"
#: Tag names this project reads: GTO's characters only (``NAME@vX.Y.Z``, ``NAME#STAGE#N``).
_TAG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/=@#+-]{0,254}$")
#: Branch and ref names this project accepts (a subset of git's rules; never an option).
_REF_NAME = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}$")
#: OWNER/NAME of a GitHub repository.
GITHUB_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
#: Fields of a registration tag that tie the version to a gate record that passed.
RECORD_FIELDS = ("model-sha256", "data-sha256", "params-sha256", "checks-sha256")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Version:
    """A registered version: its tag, commit and the key: value lines of its tag message.

    ``deregistered`` names the tag that withdrew it (``NAME@vX.Y.Z!``, ``gto deregister``), if any.
    """

    version: str
    tag: str
    commit: str
    fields: dict[str, str] = field(default_factory=dict)
    deregistered: str | None = None

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
    stages: tuple[str, ...]

    def latest(self) -> Version | None:
        """Return the highest registered version (GTO's semantic version order)."""
        from gto.versions import SemVer

        if not self.versions:
            return None
        return self.versions[max(self.versions, key=SemVer)]

    def history(self, stage: str) -> list[Assignment]:
        """Return the assignments of ``stage``, oldest first."""
        return [a for a in self.assignments if a.stage == stage]

    def current(self, stage: str) -> Assignment | None:
        """Return the assignment in effect in ``stage`` (the last one), if any."""
        history = self.history(stage)
        return history[-1] if history else None

    def stack(self, stage: str) -> list[str]:
        """Return the versions of ``stage`` that a rollback can still return to, oldest first.

        The stage's history read as a stack: assigning a new version pushes it; assigning the
        version just below the top (``make rollback``, or promoting it by hand) pops the top,
        which was rolled back from. The last entry is what runs; a rollback goes to the one
        before it, so a second rollback goes one step further back instead of returning to
        the version the first one left.
        """
        versions: list[str] = []
        for assignment in self.history(stage):
            if len(versions) >= 2 and versions[-2] == assignment.version:
                versions.pop()
            elif not versions or versions[-1] != assignment.version:
                versions.append(assignment.version)
        return versions


# --------------------------------------------------------------------------- helpers


def project_metadata(repo: Path) -> dict[str, Any]:
    """Return ``[project]`` of the repository's pyproject.toml (name, description, ...)."""
    path = repo / "pyproject.toml"
    if not path.is_file():
        raise ReleaseError(f"{path} not found: run release commands from the project root")
    with path.open("rb") as handle:
        project: dict[str, Any] = tomllib.load(handle).get("project", {})
    return project


def model_name(repo: Path) -> str:
    """Return the model's name: the project's distribution name (pyproject [project].name).

    It is the same value that training writes as lineage ``model_name``; pyproject is read so that
    commands that do not train (promote, rollback, status, check-ref) find it too.
    """
    name = project_metadata(repo).get("name")
    if not name:
        raise ReleaseError("pyproject.toml has no [project].name: it is the model's name")
    return str(name)


def ensure_version(version: str) -> str:
    """Return ``version`` as GTO writes it (``vX.Y.Z``, ``v`` added); refuse what is not semver.

    GTO's :class:`~gto.versions.SemVer` decides (pre-release and build parts included), so a
    version this accepts is one ``gto register`` accepts too.
    """
    from gto.versions import SemVer

    normalized = version if version.startswith("v") else f"v{version}"
    if not SemVer.is_valid(normalized):
        raise ReleaseError(f"version {version!r} is not semantic (expected vMAJOR.MINOR.PATCH)")
    return normalized


def bump(version: str | None, part: str = "patch") -> str:
    """Return the version after ``version`` with ``part`` bumped (FIRST_VERSION when none)."""
    from gto.versions import SemVer

    if part not in BUMPS:
        raise ReleaseError(f"unknown version part {part!r} (expected one of {', '.join(BUMPS)})")
    if version is None:
        return FIRST_VERSION
    current = SemVer(ensure_version(version))
    bumped: SemVer = current.bump(**{f"bump_{part}": True})
    return bumped.version


def _parse_fields(message: str) -> dict[str, str]:
    """Return the ``key: value`` lines of a tag message (the first line is a title)."""
    fields = {}
    for line in message.splitlines()[1:]:
        key, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"[a-z0-9-]+", key):
            fields[key] = value.strip()
    return fields


def _config(repo: Path) -> RegistryConfig:
    """GTO's settings of ``repo``, read by GTO from its ``.gto`` (and GTO_* variables)."""
    from gto.config import CONFIG_FILE_NAME, read_registry_config
    from gto.exceptions import GTOException

    try:
        return read_registry_config(str(repo / CONFIG_FILE_NAME))
    except GTOException as exc:
        raise ReleaseError(f"{CONFIG_FILE_NAME}: GTO cannot read it ({exc})") from None


def stages(repo: Path) -> tuple[str, ...]:
    """The stages versions can be assigned to: ``stages`` of the project's ``.gto``, via GTO.

    GTO accepts any stage when none are listed; this project refuses to guess and asks for them.
    """
    from gto.config import CONFIG_FILE_NAME

    listed = tuple(_config(repo).stages or ())
    if not listed and not (repo / CONFIG_FILE_NAME).is_file():
        raise ReleaseError(
            f"{repo / CONFIG_FILE_NAME} not found: it lists the stages (`stages: [staging, prod]`)"
        )
    if not listed:
        raise ReleaseError(
            f"{CONFIG_FILE_NAME} lists no stages: add `stages: [staging, prod]` to "
            f"{repo / CONFIG_FILE_NAME}"
        )
    return listed


def read_state(repo: Path, name: str | None = None) -> State:
    """Read the versions and stage assignments of the model from GTO's registry (the git tags).

    Versions are the ones GTO knows as registered (a deregistered one is kept, marked, so that
    what a stage ran stays readable); assignments are the counted ``NAME#STAGE#N`` tags of those
    versions, ordered by ``N`` (GTO orders events by their tag time, which has one-second
    resolution; the counter is strictly increasing).
    """
    from gto.exceptions import GTOException
    from gto.registry import GitRegistry
    from gto.tag import parse_name
    from scmrepo.exceptions import SCMError

    name = name or model_name(repo)
    listed = stages(repo)
    try:
        with GitRegistry.from_url(str(repo)) as registry:
            artifact = registry.get_state().get_artifacts().get(name)
    except GTOException as exc:
        raise ReleaseError(f"GTO cannot read the tags of {repo}: {_gto_message(exc)}") from None
    except SCMError:  # GTO's git layer: not a repository at all
        raise ReleaseError(f"{repo} is not a git repository: it has no tags to read") from None
    versions: dict[str, Version] = {}
    assignments: list[Assignment] = []
    if artifact is None:
        return State(name, versions, assignments, listed)
    for found in artifact.versions:
        if not found.is_registered:
            continue  # a commit GTO only knows from an assignment tag: never registered
        registration = found.registrations[-1]
        withdrawn = None if found.is_active else found.deregistrations[-1].tag
        versions[found.version] = Version(
            found.version,
            registration.tag,
            found.commit_hexsha,
            _parse_fields(registration.message),
            withdrawn,
        )
        for vstage in found.stages.values():
            for event in vstage.assignments:
                counter = parse_name(event.tag, raise_on_fail=False).get("counter")
                if counter is None:
                    continue  # GTO's simple notation NAME#STAGE: not written by this module
                assignments.append(Assignment(counter, event.stage, found.version, event.tag))
    assignments.sort(key=lambda a: a.number)
    return State(name, versions, assignments, listed)


def _tag_exists(repo: Path, tag: str) -> bool:
    return git.ok(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}")


def push_auth_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of ``git push``: in GitHub Actions, with GH_TOKEN as its credentials.

    Workflows check out without persisting credentials; the token reaches git for the push
    only, as configuration in the environment (``GIT_CONFIG_*``), never on a command line or
    in ``.git/config``.
    """
    env = dict(os.environ if environ is None else environ)
    token, server = env.get("GH_TOKEN"), env.get("GITHUB_SERVER_URL")
    if env.get("GITHUB_ACTIONS") != "true" or not token or not server:
        return env
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    index = int(env.get("GIT_CONFIG_COUNT") or 0)
    env |= {
        "GIT_CONFIG_COUNT": str(index + 1),
        f"GIT_CONFIG_KEY_{index}": f"http.{server.rstrip('/')}/.extraheader",
        f"GIT_CONFIG_VALUE_{index}": f"AUTHORIZATION: basic {basic}",
    }
    return env


def _push(repo: Path, tag: str) -> None:
    """Push one tag to origin; delete the local tag if the push fails (nothing left behind)."""
    proc = git.run(repo, "push", "--quiet", "origin", f"refs/tags/{tag}", env=push_auth_env())
    if proc.returncode != 0:
        git.run(repo, "tag", "-d", tag)
        raise ReleaseError(f"could not push {tag} to origin: {git.last_line(proc)}")


def _gto_message(exc: Exception) -> str:
    """The first line of a GTO exception's message."""
    return str(exc).strip().splitlines()[0].lstrip("❌ ")


def _gto_call(func: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - any GTO api function and result
    """Call a GTO api function and return its result; its exceptions become ReleaseErrors."""
    from gto.exceptions import GTOException

    try:
        return func(**kwargs)
    except GTOException as exc:
        raise ReleaseError(_gto_message(exc)) from exc


# --------------------------------------------------------------------------- guards


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
    (:func:`~.lineage.ensure_current`), trained on HEAD from a clean tree, and checks.json must
    be the gate record of exactly that run, against the current thresholds, and have passed
    (:func:`~.check_record.ensure_record_current`).
    """
    from .check_record import ensure_record_current
    from .errors import ArtifactError
    from .lineage import ensure_current

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
    from .records import ChecksRecord

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
    missing = [key for key in RECORD_FIELDS if not _SHA256.fullmatch(fields.get(key, ""))]
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


# --------------------------------------------------------------------------- commands


def register(
    repo: Path,
    params: Params,
    version: str | None = None,
    part: str = "patch",
    image: str | None = None,
    push: bool = False,
    layout: ArtifactLayout | None = None,
) -> Version:
    """Register HEAD as a new version of the model (tag ``NAME@vX.Y.Z``).

    Refuses a dirty tree, artifacts that are not from HEAD and the current ``params`` and data,
    a gate record that is not about that model or did not pass, a version that is not semver or
    not higher than every registered one, and an existing tag. The tag message records the
    commit, the model, data, params and gate record fingerprints, the metrics and the image
    (from ``image`` or artifacts/image.json when it exists). ``layout``: the artifacts
    (default: the repository's ``artifacts/``).
    """
    from gto import api
    from gto.versions import SemVer

    from .records import ImageRecord

    if version is not None:
        version = ensure_version(version)
    head = ensure_clean(repo)
    layout = layout or ArtifactLayout.of(repo)
    lineage, checks = ensure_gates_passed(repo, head, params, layout)
    state = read_state(repo)
    latest = state.latest()
    if version is None:
        version = bump(latest.version if latest else None, part)
    tag = f"{state.name}@{version}"
    if _tag_exists(repo, tag):
        raise ReleaseError(f"tag {tag} already exists")
    if latest and SemVer(version) <= SemVer(latest.version):  # type: ignore[operator]  # GTO's SemVer orders with untyped __le__
        raise ReleaseError(
            f"version {version} is not higher than the latest registered {latest.version}"
        )
    registered_here = [v.version for v in state.versions.values() if v.commit == head]
    if registered_here:
        raise ReleaseError(f"commit {head[:12]} is already registered as {registered_here[0]}")
    if image is None and layout.image.is_file():
        image = ImageRecord.read(layout.image).ref
    fields = {
        "commit": head,
        "image": image or "none",
        "model-sha256": str(checks.model_sha256),
        "data-sha256": str(checks.data_sha256),
        "params-sha256": str(checks.params_sha256),
        "checks-sha256": sha256_file(layout.checks),
        "gates": "passed" if checks.passed else "failed",
        "metrics": json.dumps(lineage.metrics.test, sort_keys=True),
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


def promote(
    repo: Path, version: str, stage: str, push: bool = False, title: str | None = None
) -> Assignment:
    """Assign a registered ``version`` to ``stage`` (tag ``NAME#STAGE#N``).

    ``title`` is the first line of the tag message (default ``Assign NAME vX.Y.Z to STAGE``).
    """
    from gto import api
    from gto.tag import parse_name
    from gto.versions import SemVer

    ensure_stage(repo, stage)
    version = ensure_version(version)
    state = read_state(repo)
    if version not in state.versions:
        known = ", ".join(sorted(state.versions, key=SemVer)) or "none"
        raise ReleaseError(f"version {version} is not registered (registered: {known})")
    ensure_registered_with_gates(state.versions[version])
    current = state.current(stage)
    if current and current.version == version:
        raise ReleaseError(f"{version} is already in {stage} ({current.tag})")
    message = (title or f"Assign {state.name} {version} to {stage}") + "\n\nimage: "
    message += state.versions[version].image or "none"
    # GTO keeps a version's earlier assignment active: re-assigning it (a rollback) needs force.
    again = any(a.version == version for a in state.history(stage))
    event = _gto_call(
        api.assign,
        repo=str(repo),
        name=state.name,
        stage=stage,
        version=version,
        message=message,
        force=again,
    )
    counter = parse_name(event.tag, raise_on_fail=False).get("counter")
    if event.version != version or counter is None:  # pragma: no cover - GTO contract
        raise ReleaseError(f"GTO did not record {version} in {stage} ({event.tag})")
    if push:
        _push(repo, event.tag)
    return Assignment(counter, stage, version, event.tag)


def rollback_target(state: State, stage: str) -> tuple[str, str]:
    """Return (current, target) of a rollback of ``stage``: the version below the top of its stack.

    Refuses a stage that never ran anything, that only ever ran one version, or whose earlier
    versions were all rolled back from (:meth:`State.stack`): a rollback never returns to a
    version that was rolled back from; ``make promote`` can, deliberately.
    """
    history = state.history(stage)
    if not history:
        raise ReleaseError(f"nothing to roll back: no version was ever assigned to {stage}")
    stack = state.stack(stage)
    current = stack[-1]
    if len(stack) >= 2:
        return current, stack[-2]
    if all(a.version == current for a in history):
        raise ReleaseError(f"nothing to roll back to: {stage} has only ever run {current}")
    rolled_back = sorted({a.version for a in history} - {current}, key=_semver_key)
    raise ReleaseError(
        f"nothing to roll back to: {stage} runs {current} and every other version it ran "
        f"({', '.join(rolled_back)}) was rolled back from; promote one explicitly "
        "(make promote VERSION=... STAGE=...)"
    )


def _semver_key(version: str) -> SemVer:
    from gto.versions import SemVer

    return SemVer(version)


def rollback(repo: Path, stage: str, push: bool = False) -> tuple[str, Assignment]:
    """Assign to ``stage`` the version before the current one in its stack; return (from, new)."""
    ensure_stage(repo, stage)
    state = read_state(repo)
    current, target = rollback_target(state, stage)
    title = f"Roll back {state.name} in {stage} from {current} to {target}"
    return current, promote(repo, target, stage, push=push, title=title)


def check_ref(repo: Path, ref: str, branch: str | None = None) -> dict[str, str]:
    """Decide what a pushed tag means for the release workflow, with ``gto check-ref``.

    Returns ``event`` (``registration``, ``assignment`` or ``none``), ``name``, ``version``,
    ``stage``, ``tag`` and ``commit``, all strings (empty when not applicable). A ref that GTO
    does not recognise, a tag of another artifact or of a stage this project does not deploy is
    ``none``: the workflow then does nothing.

    A registration or assignment of this model is refused unless the version it names was
    registered by ``make register`` with passed gates (:func:`ensure_registered_with_gates`)
    from a commit of ``branch`` (default: :func:`default_branch`). Tag names outside GTO's
    characters are refused (:func:`ensure_tag_name`).
    """
    from gto import api
    from gto.exceptions import GTOException

    tag = ensure_tag_name(ref)
    branch = ensure_ref_name(branch) if branch else None
    if not git.ok(repo, "rev-parse", "--git-dir"):
        raise ReleaseError(f"{repo} is not a git repository: there are no tags to check")
    decision = {"event": "none", "name": "", "version": "", "stage": "", "tag": tag, "commit": ""}
    try:
        events = api.check_ref(str(repo), tag)
    except GTOException:  # a ref GTO cannot read is simply not a release event
        return decision
    name = model_name(repo)
    allowed = stages(repo)
    for event in events:
        kind = type(event).__name__.lower()
        stage = getattr(event, "stage", "") or ""
        if event.artifact == name and kind in {"registration", "assignment"}:
            if stage and stage not in allowed:
                continue  # a stage this project does not deploy
            decision.update(event=kind, name=name, stage=stage)
    if decision["event"] == "none":
        return decision
    version = _released_version(read_state(repo, name), tag, decision["event"])
    ensure_on_branch(repo, version.commit, branch or default_branch(repo))
    decision.update(version=version.version, commit=version.commit)
    return decision


def _released_version(state: State, tag: str, event: str) -> Version:
    """The registered version a registration or assignment tag names, checked for release."""
    if event == "registration":
        version = next((v for v in state.versions.values() if v.tag == tag), None)
    else:
        assignment = next((a for a in state.assignments if a.tag == tag), None)
        version = state.versions.get(assignment.version) if assignment else None
    if version is None:
        raise ReleaseError(f"{tag} does not name a registered version of {state.name}")
    return ensure_registered_with_gates(version)


def status(repo: Path) -> str:
    """Return a table of what runs where: stage, version, assignment tag, image."""
    state = read_state(repo)
    latest = state.latest()
    lines = [f"model {state.name}: latest {latest.version if latest else 'none registered'}"]
    lines.append(f"{'stage':<8} {'version':<10} {'tag':<30} image")
    for stage in state.stages:
        current = state.current(stage)
        if current is None:
            lines.append(f"{stage:<8} {'-':<10} {'-':<30} -")
            continue
        image = state.versions[current.version].image or "none"
        lines.append(f"{stage:<8} {current.version:<10} {current.tag:<30} {image}")
    return "\n".join(lines)
