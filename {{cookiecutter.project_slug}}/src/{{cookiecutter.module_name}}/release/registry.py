"""The registry's state as GTO reads it from the git tags: versions, their fields, stages."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import git
from ..errors import ReleaseError

if TYPE_CHECKING:
    from gto.config import RegistryConfig
    from gto.versions import SemVer


if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (tomli comes with bentoml there)
    import tomli as tomllib


BUMPS = ("major", "minor", "patch")


#: The version a model's first registration gets (GTO's own default would be v0.0.1).
FIRST_VERSION = "v0.1.0"


#: Fields of a registration tag that tie the version to a gate record that passed.
RECORD_FIELDS = ("model-sha256", "data-sha256", "params-sha256", "checks-sha256")


SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
        raise ReleaseError(f"GTO cannot read the tags of {repo}: {gto_message(exc)}") from None
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


def gto_message(exc: Exception) -> str:
    """The first line of a GTO exception's message."""
    return str(exc).strip().splitlines()[0].lstrip("❌ ")


def tag_exists(repo: Path, tag: str) -> bool:
    """Whether ``tag`` exists in ``repo``."""
    return git.ok(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}")


def semver_key(version: str) -> SemVer:
    """The version as GTO's SemVer, to order versions."""
    from gto.versions import SemVer

    return SemVer(version)
