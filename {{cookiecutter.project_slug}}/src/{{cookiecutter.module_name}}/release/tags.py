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
holds the stages (``gto.config``, read from ``.gto``). This module registers, promotes and rolls
back (the rollback rule: :meth:`.registry.State.stack`); :mod:`.registry` reads the state and
:mod:`.guards` holds the guards (clean tree, a gate record that belongs to the model and
passed, increasing versions, registered version, a commit of the default branch). Every refusal
raises ``ReleaseError`` before any tag is created. The model card is rendered by
:mod:`..reporting.model_card`; deployment and publishing live in :mod:`.deploy`.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import git
from ..artifacts import sha256_file
from ..errors import ReleaseError
from ..layout import ArtifactLayout
from .guards import (
    default_branch,
    ensure_clean,
    ensure_gates_passed,
    ensure_on_branch,
    ensure_ref_name,
    ensure_registered_with_gates,
    ensure_stage,
    ensure_tag_name,
)
from .registry import (
    Assignment,
    State,
    Version,
    bump,
    ensure_version,
    gto_message,
    model_name,
    read_state,
    semver_key,
    stages,
    tag_exists,
)

if TYPE_CHECKING:
    from ..config import Params

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - Python 3.10 (tomli comes with bentoml there)
    pass


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


def _gto_call(func: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - any GTO api function and result
    """Call a GTO api function and return its result; its exceptions become ReleaseErrors."""
    from gto.exceptions import GTOException

    try:
        return func(**kwargs)
    except GTOException as exc:
        raise ReleaseError(gto_message(exc)) from exc


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

    from ..records import ImageRecord

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
    if tag_exists(repo, tag):
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
    rolled_back = sorted({a.version for a in history} - {current}, key=semver_key)
    raise ReleaseError(
        f"nothing to roll back to: {stage} runs {current} and every other version it ran "
        f"({', '.join(rolled_back)}) was rolled back from; promote one explicitly "
        "(make promote VERSION=... STAGE=...)"
    )


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
