"""Data versioning with DVC: the team's data is a ``.dvc`` pointer in git, its bytes in a remote.

A data file ``data/x.csv`` is *tracked* when ``data/x.csv.dvc`` exists: a small YAML file, committed
to git, naming the file's content hash (DVC's md5) and size. The bytes live in DVC's cache
(``.dvc/cache``) and in the project's DVC remote (``.dvc/config``: a local folder by default, or
S3, GCS, Azure, SSH set with ``make remote URL=...``); the data file itself stays gitignored.
A commit therefore names exactly one version of the data, and :func:`pull` restores those bytes.

The API, for the commands (``make data``, ``make track``, ``make retrain``, ``make adopt``):

- :func:`track` starts (or updates) tracking of a data file: ``dvc add`` (pointer written, bytes
  in the cache, file kept out of git). Commit the pointer; :func:`push` uploads the bytes.
- :func:`push` uploads the version the pointer names to the remote.
- :func:`pull` restores the version the pointer names (from the cache, else the remote); nothing
  is written to the data file unless the whole version arrived.
- :func:`status` tells whether the file is tracked, in sync with its pointer, modified or missing.
- :func:`pointer_version` reads a pointer (no DVC import): what lineage records and the PR
  report compares (:func:`report_lines`).
- :func:`set_remote` configures the project's default remote (one command for every backend).

Every problem is a :class:`~..errors.DataError` of one line naming the file, the remote and what
to do; DVC's own log output is captured, not printed.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError, FormatError
from .data_version import DataVersion, pointer_path, pointer_version, status

if TYPE_CHECKING:
    from dvc.repo import Repo


#: The default remote's name in ``.dvc/config`` (``make remote`` sets its URL).
REMOTE_NAME = "storage"


#: Remote URL schemes and the DVC plugin each needs (``uv add 'dvc[...]'``); local paths need none.
SCHEMES = {"s3": "dvc-s3", "gs": "dvc-gs", "azure": "dvc-azure", "ssh": "dvc-ssh"}


#: The extra to install for a scheme whose plugin is not in the locked environment.
EXTRAS = {"s3": "s3", "gs": "gs", "azure": "azure", "ssh": "ssh"}


_URL = re.compile(r"(?:(s3|gs|azure|ssh)://[^\s'\"`$\\;|&<>]+|[\w./~-][\w./~ -]*)")


_ENDPOINT = re.compile(r"https?://[\w.:-]+(?:/[\w./-]*)?")


#: The loggers DVC and its libraries write to (configured by ``import dvc``).
_DVC_LOGGERS = ("dvc", "dvc_data", "dvc_objects")


@dataclass(frozen=True)
class Remote:
    """The project's default DVC remote: its name and URL (and an S3 endpoint, if any)."""

    name: str
    url: str
    endpoint: str | None = None


class _Captured(logging.Handler):
    """Collects DVC's log messages (warnings and errors) instead of printing them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        cause = record.exc_info[1] if record.exc_info else None
        if cause is not None:  # DVC logs "failed to connect to s3" with the reason attached
            message = f"{message} - {cause}"
        self.messages.append(" ".join(message.split()))


@contextlib.contextmanager
def _dvc(root: Path) -> Iterator[tuple[Repo, _Captured]]:
    """Open the project's DVC repository with DVC's logging captured and its UI silenced."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo
    from dvc.ui import ui

    captured = _Captured()
    loggers = [logging.getLogger(name) for name in _DVC_LOGGERS]
    saved = [(logger.handlers[:], logger.propagate, logger.level) for logger in loggers]
    for logger in loggers:
        logger.handlers, logger.propagate = [captured], False
        logger.setLevel(logging.WARNING)
    enabled = ui._enabled
    # DVC's console hints ("To track the changes with git, run: ...") are this module's to give.
    ui._enabled = False  # Console has enable() but no disable()
    try:
        try:
            repo = Repo(str(root))
        except NotDvcRepoError:
            raise DataError(
                f"{root}: not a DVC project (no .dvc/ folder); run `dvc init` there, or bake "
                "the project again from the template"
            ) from None
        with repo:
            yield repo, captured
    finally:
        for logger, (handlers, propagate, level) in zip(loggers, saved, strict=True):
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)
        ui._enabled = enabled


def _inside(root: Path, path: str | Path) -> str:
    """``path`` relative to the project, refused if it leaves it (DVC tracks files inside only)."""
    relative = Path(path)
    resolved = (root / relative).resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise DataError(
            f"{Path(path).as_posix()}: outside the project; DVC tracks data inside it only "
            "(copy the file under data/)"
        ) from None


def _why(exc: BaseException, captured: _Captured) -> str:
    """DVC's reason for a failure: its logged error (the exception often says only a count)."""
    errors = [m for m in captured.messages if not m.startswith("Some of the cache files")]
    text = errors[0] if errors else str(exc)
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # colour codes of DVC's messages
    return " ".join(text.split()).rstrip(".")


def _plain(exc: BaseException) -> str:
    """An exception DVC did not wrap (e.g. botocore's), as one line with its type."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def remote(root: Path) -> Remote | None:
    """The project's default remote (``core.remote`` of the DVC config); None if there is none."""
    with _dvc(root) as (repo, _):
        config = repo.config
        name = config["core"].get("remote")
        if not name or name not in config["remote"]:
            return None
        section = config["remote"][name]
        return Remote(name, str(section["url"]), section.get("endpointurl"))


def _remote_failure(
    root: Path, relative: str, action: str, exc: Exception, captured: _Captured
) -> DataError:
    """One line: which file, ``action`` ("push to", "pull from") which remote, and why not."""
    from dvc.exceptions import DvcException

    why = _why(exc, captured) if isinstance(exc, DvcException) else _plain(exc)
    return DataError(f"{relative}: cannot {action} {_remote_label(root)}: {why}")


def _remote_label(root: Path) -> str:
    try:
        found = remote(root)
    except DataError:
        return "no DVC remote"
    if found is None:
        return "no DVC remote is configured"
    return f"the DVC remote {found.name!r} ({found.url})"


def track(root: Path, path: str | Path) -> DataVersion:
    """Start (or update) DVC tracking of a data file: the pointer names its current bytes.

    Runs ``dvc add``: the bytes go into the cache, ``<path>.dvc`` is (re)written, the file itself
    is left as it is (same inode, permissions, symlink) and stays out of git (the project's
    .gitignore ignores data files; DVC adds a .gitignore entry for files elsewhere). Afterwards:
    ``git add <path>.dvc`` and :func:`push`.

    Returns:
        The version the pointer now names.

    Raises:
        DataError: if the file is missing, outside the project, or DVC refuses it (e.g. the
            file is committed to git: ``git rm --cached`` it first).
    """
    relative = _inside(root, path)
    if not (root / relative).is_file():
        raise DataError(f"{relative}: file not found; nothing to track")
    from dvc.exceptions import DvcException

    with _dvc(root) as (repo, captured):
        try:
            # Absolute: DVC reads relative paths from the cwd. relink=False: the file keeps its
            # inode, permissions and symlink (DVC would replace it with a copy of the cache's).
            repo.add(str(root.resolve() / relative), relink=False)
        except DvcException as exc:
            raise DataError(
                f"{relative}: cannot track it with DVC: {_why(exc, captured)}"
            ) from None
    return _tracked(root, relative)


def push(root: Path, path: str | Path) -> DataVersion:
    """Upload the version the pointer of ``path`` names to the default remote.

    Raises:
        DataError: if the file is not tracked, or the remote is unreachable or refuses it
            (missing credentials, no such bucket): one line naming the remote and DVC's reason.
    """
    relative = _inside(root, path)
    version = _tracked(root, relative)
    with _dvc(root) as (repo, captured):
        try:
            repo.push(targets=[str(root.resolve() / version.pointer)])
        except Exception as exc:  # DVC's, or a remote's client library's (botocore, ...)
            raise _remote_failure(root, relative, "push to", exc, captured) from None
    return version


def pull(root: Path, path: str | Path) -> DataVersion:
    """Restore the version the pointer of ``path`` names (cache first, then the default remote).

    DVC downloads into its cache and writes the data file only once the whole version is there:
    a failed pull leaves the data file as it was (missing, or another complete version).

    Raises:
        DataError: if the file is not tracked, the version is in neither the cache nor the
            remote, the remote is unreachable or credentials are missing, or the file holds
            changes that are not tracked yet (never overwritten: track or discard them first).
    """
    relative = _inside(root, path)
    version = _tracked(root, relative)
    current = status(root, relative)
    if current.state == "in-sync":
        return version
    if current.state == "modified":
        raise DataError(
            f"{relative}: differs from the version {version.pointer} names "
            f"(md5 {version.md5[:12]}); `make track` versions your change, "
            f"`git checkout -- {version.pointer}` then `rm {relative}` and `make data` discards it"
        )
    from dvc.exceptions import CheckoutError

    with _dvc(root) as (repo, captured):
        try:
            repo.pull(targets=[str(root.resolve() / version.pointer)])
        except CheckoutError:
            raise DataError(
                f"{relative}: version {version.md5[:12]} ({version.pointer}) is neither in the "
                f"local cache nor in {_remote_label(root)}; push it from the machine that "
                "tracked it (`make push`), or set the team's remote (`make remote URL=...`)"
            ) from None
        except Exception as exc:  # DVC's, or a remote's client library's (botocore, ...)
            raise _remote_failure(root, relative, "pull from", exc, captured) from None
    return version


def _tracked(root: Path, relative: str) -> DataVersion:
    version = pointer_version(root, relative)
    if version is None:
        raise DataError(
            f"{relative}: not tracked by DVC (no {pointer_path(relative)}); "
            f"`make track DATA={relative}` starts tracking it"
        )
    return version


def set_remote(root: Path, url: str, endpoint: str | None = None) -> Remote:
    """Make ``url`` the project's default remote (``.dvc/config``, committed; no credentials).

    ``url``: ``s3://bucket/path``, ``gs://bucket/path``, ``azure://container/path``,
    ``ssh://host/path`` or a local folder (relative to the project, or absolute). ``endpoint``:
    the endpoint of an S3-compatible store (MinIO, a local moto server). Credentials are never
    written here: they come from the environment (README "Data").

    Raises:
        FormatError: for a URL or endpoint that is not one of these forms.
        DataError: for a scheme whose DVC plugin is not installed (names the ``uv add``).
    """
    if not _URL.fullmatch(url):
        raise FormatError(
            f"URL {url!r} is not a DVC remote (expected s3://, gs://, azure://, ssh:// or a "
            "local folder)"
        )
    if endpoint is not None and not _ENDPOINT.fullmatch(endpoint):
        raise FormatError(f"ENDPOINT {endpoint!r} is not an http(s) URL")
    scheme = url.split("://", 1)[0] if "://" in url else None
    if endpoint is not None and scheme != "s3":
        raise FormatError("ENDPOINT applies to s3:// remotes only")
    if scheme is not None:
        _require_plugin(scheme)
    from dvc.config_schema import RelPath

    value: str = url
    if scheme is None and not url.startswith("~"):
        value = RelPath(str(root / url))  # stored relative to .dvc/ when it is inside
    with _dvc(root) as (repo, _), repo.config.edit("repo") as config:
        section: dict[str, Any] = {"url": value}
        if endpoint is not None:
            section["endpointurl"] = endpoint
        config["remote"][REMOTE_NAME] = section
        config["core"]["remote"] = REMOTE_NAME
    return Remote(REMOTE_NAME, url, endpoint)


def _require_plugin(scheme: str) -> None:
    import importlib.util

    module = SCHEMES[scheme].replace("-", "_")
    if importlib.util.find_spec(module) is None:
        raise DataError(
            f"{scheme}:// remotes need DVC's {SCHEMES[scheme]} plugin: "
            f"`uv add 'dvc[{EXTRAS[scheme]}]'` (then commit pyproject.toml and uv.lock)"
        )


def share_with_worktree(project: Path, worktree: Path, path: str | Path) -> bool:
    """Let a git worktree of the project pull its own version of ``path``; False if untracked.

    For the PR report's base run: the worktree (another commit of this repository) uses this
    checkout's DVC cache, so a version this machine has is not downloaded again, and a default
    remote that is a local folder given relative to the project resolves to this checkout's.
    Written to the worktree's ``.dvc/config.local`` (never committed).
    """
    if pointer_version(worktree, path) is None or not (worktree / ".dvc").is_dir():
        return False
    with _dvc(worktree) as (repo, _):
        name = repo.config["core"].get("remote")
        url = str(repo.config["remote"].get(name, {}).get("url", "")) if name else ""
        with repo.config.edit("local") as local:
            local["cache"]["dir"] = str((project / ".dvc" / "cache").resolve())
            inside = url and "://" not in url and Path(url).is_relative_to(worktree.resolve())
            if inside:  # a folder of the checkout (the default remote): the project's own
                moved = project.resolve() / Path(url).relative_to(worktree.resolve())
                local["remote"][name] = {"url": str(moved)}
    return True


def write_fork_notice(artifacts: Path, why: str) -> Path:
    """Write the PR report of a fork PR that cannot get the data (no secrets); return its path.

    The report says so, and nothing else: no model is trained on a substitute.
    """
    from ..artifacts import atomic_write_text
    from ..layout import REPORT_FILE, ArtifactLayout

    path = ArtifactLayout(artifacts).report / REPORT_FILE  # where `make report` writes
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        path,
        "## Model report\n\n"
        "⚠️ **Data not available to fork PRs.** The training data is versioned with DVC and "
        "pulled with the repository's secrets, which GitHub does not give to workflows of pull "
        "requests from forks: nothing was trained, gated or compared. A maintainer can run the "
        "report by pushing this branch to the repository.\n\n"
        f"`make data` said: {' '.join(why.split())}\n",
    )
    return path
