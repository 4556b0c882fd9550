"""The base branch's run, for the PR report to compare against.

:func:`build_base` checks out the merge base of ``HEAD`` and the base ref in a temporary
``git worktree``, runs its own ``make install train`` there and keeps its records (in
``artifacts/base/``). Training is reproducible, so this equals what the base branch produced.
``--base-artifacts DIR`` reads a base run from a directory instead.

Retraining the base doubles the pull request's path, so the default branch's CI keeps each
commit's run (:func:`save_base_run`, ``make base-run``) in a cache keyed by the commit; the PR
workflow restores the one of its base, and :func:`build_base` uses a saved run (``--base-run
DIR``) when it is of the merge base from a clean checkout, and retrains only when it is not.

The worktree is removed when the report finishes, fails or is interrupted (the base's build runs
in its own process group, stopped with it); the next report removes the worktrees that killed
ones left behind (:func:`remove_stale_worktrees`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .. import git
from ..artifacts import process_alive, replace_directory
from ..data.datastore import share_with_worktree
from ..errors import ArtifactError
from ..layout import CHECKS_JSON, DIAGNOSTICS_FILE, LINEAGE_FILE, METRICS_FILE, ArtifactLayout
from ..pipeline import tracking
from ..processes import STOPPING_SIGNALS, stop_group
from ..progress import Progress, quiet
from ..records import ChecksRecord
from .runs import Base, load_base

if TYPE_CHECKING:
    from ..config import Params


#: The files of a run that a base comparison reads (those absent from older bases are optional).
BASE_RUN_FILES = (METRICS_FILE, LINEAGE_FILE)


BASE_RUN_OPTIONAL = (CHECKS_JSON, DIAGNOSTICS_FILE)


#: Make targets that produce a base run in the base worktree.
BASE_TARGETS = ("install", "train")


#: Then this one, whose failure (a gate the base fails) does not stop the report.
BASE_CHECK_TARGET = "check"


BASE_TIMEOUT = 3600


#: The base's worktree is ``<temp dir>/report-base-<pid>-<random>/base``: the id of the report's
#: process tells a worktree of a killed report from one in use.
WORKTREE_PREFIX = "report-base-"


_WORKTREE_DIR = re.compile(rf"^{WORKTREE_PREFIX}(\d+)-")


#: Seconds the base's build gets to stop after SIGTERM before it is killed.
STOP_GRACE = 10


#: Environment variables of this run that must not leak into the base's own make/uv.
_ISOLATED_ENV = (
    "VIRTUAL_ENV",
    "UV_PROJECT_ENVIRONMENT",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEOVERRIDES",
    # The base's retraining is a copy of a run the base branch logged already: it is not tracked
    # (see _base_env), and never reaches the team's tracking server.
    "MLFLOW_TRACKING_URI",
)


def _base_env(uv: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    env[tracking.SWITCH_ENV] = "none"
    if uv:
        env["PATH"] = f"{Path(uv).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _external_data(project: Path, base_project: Path) -> list[str]:
    """Copy the data file into the base checkout when git does not version it there.

    Data in ``.gitignore`` (the default ``data/``) is not in the worktree; the base then trains
    on the same file as the PR (``make data`` would otherwise write the bundled sample).
    Returns the copied paths, relative to the project.
    """
    import yaml

    try:
        params = yaml.safe_load((base_project / "params.yaml").read_text(encoding="utf-8"))
        relative = Path(params["data"]["path"])
    except (OSError, TypeError, KeyError, yaml.YAMLError):
        return []
    if relative.is_absolute() or ".." in relative.parts:
        return []
    if share_with_worktree(project, base_project, relative):  # the base pulls its own version
        return []
    source, target = project / relative, base_project / relative
    if target.exists() or not source.is_file():
        return []
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
    return [relative.as_posix()]


def _stale_worktree(path: Path) -> bool:
    """True for a base worktree of this module whose report process is gone."""
    match = _WORKTREE_DIR.match(path.parent.name)
    return match is not None and path.name == "base" and not process_alive(int(match.group(1)))


def remove_stale_worktrees(project: Path) -> list[Path]:
    """Remove the base worktrees (and their temporary folders) of reports that were killed.

    A killed report leaves its worktree registered in git and its folder (a whole environment)
    on disk; this unregisters and deletes them, and prunes worktrees whose folder is gone.
    Returns the removed worktrees.
    """
    listing = git.run(project, "worktree", "list", "--porcelain").stdout.splitlines()
    paths = [Path(line[len("worktree ") :]) for line in listing if line.startswith("worktree ")]
    removed = [path for path in paths if _stale_worktree(path)]
    for path in removed:
        git.run(project, "worktree", "remove", "--force", str(path))
        shutil.rmtree(path.parent, ignore_errors=True)
    for folder in Path(tempfile.gettempdir()).glob(f"{WORKTREE_PREFIX}*"):
        if _stale_worktree(folder / "base"):  # a folder whose worktree git no longer lists
            shutil.rmtree(folder, ignore_errors=True)
    git.run(project, "worktree", "prune")
    return removed


def build_base(
    ref: str,
    project: Path,
    dest: Path,
    *,
    uv: str | None = None,
    saved: Path | None = None,
    progress: Progress = quiet,
) -> Base:
    """Retrain the merge base of ``HEAD`` and ``ref`` and copy its run into ``dest``.

    A run in ``saved`` (:func:`save_base_run`) that is of the merge base is used instead of
    retraining. Never raises for a missing base: a ref that does not exist, a base without the
    pipeline or a base that fails to train gives a :class:`Base` whose ``note`` says so (the
    report shows it). The build log is kept as ``dest/build.log``.
    """
    if shutil.which("git") is None:
        return Base(ref=ref, note="git is not installed")
    prefix = git.run(project, "rev-parse", "--show-prefix")
    if prefix.returncode != 0:
        return Base(ref=ref, note=f"{project} is not in a git repository")
    stale = remove_stale_worktrees(project)
    if stale:
        progress(f"removed {len(stale)} base worktree(s) left by interrupted reports")
    if git.run(project, "rev-parse", "--verify", "--quiet", ref + "^{commit}").returncode != 0:
        return Base(ref=ref, note=f"the base ref `{ref}` does not exist here (fetch it first)")
    merge_base = git.run(project, "merge-base", "HEAD", ref)
    if merge_base.returncode != 0:
        return Base(ref=ref, note=f"`HEAD` and `{ref}` have no common commit")
    commit = merge_base.stdout.strip()
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    if saved is not None:
        reused = _saved_base(saved, commit, dest, ref, progress)
        if reused is not None:
            return reused
    with tempfile.TemporaryDirectory(prefix=f"{WORKTREE_PREFIX}{os.getpid()}-") as tmp:
        worktree = Path(tmp) / "base"
        added = git.run(project, "worktree", "add", "--detach", "--quiet", str(worktree), commit)
        if added.returncode != 0:
            return Base(ref=ref, commit=commit, note=f"git worktree failed: {added.stderr.strip()}")
        try:
            base_project = worktree / prefix.stdout.strip()
            return _train_base(ref, commit, project, base_project, dest, uv, progress)
        finally:
            git.run(project, "worktree", "remove", "--force", str(worktree))
            git.run(project, "worktree", "prune")


def _train_base(
    ref: str,
    commit: str,
    project: Path,
    base_project: Path,
    dest: Path,
    uv: str | None,
    progress: Progress,
) -> Base:
    short = commit[:7]
    if not (base_project / "Makefile").is_file():
        return Base(ref=ref, commit=commit, note=f"the base commit {short} has no Makefile here")
    copied = _external_data(project, base_project)
    if copied:
        progress(f"base: using this checkout's unversioned data {', '.join(copied)}")
    progress(f"base: make {' '.join(BASE_TARGETS)} in a worktree of {ref} at {short}")
    log = dest / "build.log"
    with log.open("w", encoding="utf-8") as handle:
        returncode = run_process_group(
            ["make", "-C", str(base_project), *BASE_TARGETS], handle, _base_env(uv)
        )
    if returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        progress("base: build failed; last lines:\n  " + "\n  ".join(tail))
        return Base(
            ref=ref,
            commit=commit,
            note=f"training the base commit {short} failed (`make {' '.join(BASE_TARGETS)}` "
            f"exited {returncode}; the base may predate the pipeline)",
        )
    built = ArtifactLayout.of(base_project).dir
    for name in BASE_RUN_FILES:
        source = built / name
        if not source.is_file():
            return Base(ref=ref, commit=commit, note=f"the base commit {short} wrote no {name}")
        shutil.copy2(source, dest / name)
    _base_gates(base_project, dest, uv, progress)
    for name in (DIAGNOSTICS_FILE,):  # newer files: a base from before them has none
        source = built / name
        if source.is_file():
            shutil.copy2(source, dest / name)
    return dataclasses.replace(load_base(dest, ref), commit=commit)


def _saved_base(saved: Path, commit: str, dest: Path, ref: str, progress: Progress) -> Base | None:
    """The run saved in ``saved`` when it is of ``commit`` (clean checkout), copied to ``dest``.

    None (retrain) when there is no saved run, or it is of another commit or a dirty checkout.
    """
    if not ArtifactLayout(saved).lineage.is_file():
        progress(f"base: no saved run in {saved.name}/: retraining the merge base")
        return None
    found = load_base(saved, ref)
    if found.run is None:
        progress(f"base: the saved run is unreadable ({found.note}): retraining the merge base")
        return None
    git = found.run.lineage.git
    if git.commit != commit or git.dirty is not False:
        state = "with uncommitted changes" if git.dirty is not False else "a clean checkout"
        progress(
            f"base: the saved run is of {str(git.commit)[:7]} ({state}), not of the merge "
            f"base {commit[:7]}: retraining it"
        )
        return None
    for name in (*BASE_RUN_FILES, *BASE_RUN_OPTIONAL):
        if (saved / name).is_file():
            shutil.copy2(saved / name, dest / name)
    progress(f"base: the saved run of the merge base {commit[:7]} (no retraining)")
    return Base(run=found.run, ref=ref, commit=commit)


def save_base_run(root: Path, artifacts: Path, dest: Path, params: Params) -> Path:
    """Keep the current run's files that a base comparison reads in ``dest`` (replaced whole).

    The run must be current (trained with ``params`` on the data they name) and from a clean
    checkout: only then is it what retraining its commit would give. Gate records of another
    model are left out (the report then shows no base gate values).

    Raises:
        ArtifactError: a stale run, or one trained with uncommitted changes.
    """
    from ..pipeline.lineage import ensure_current
    from ..quality.check_record import record_fields

    lineage = ensure_current(params, root, artifacts)
    if not lineage.git.commit or lineage.git.dirty is not False:
        raise ArtifactError(
            f"{artifacts.name}/{LINEAGE_FILE}: the run was not trained from a clean git checkout "
            "(commit it, then `make train`): a saved base run must be what its commit gives"
        )
    names = [*BASE_RUN_FILES, *(n for n in BASE_RUN_OPTIONAL if (artifacts / n).is_file())]
    if CHECKS_JSON in names:  # failed gates are values to show; another model's are not
        try:
            record = ChecksRecord.read(artifacts / CHECKS_JSON).model_dump(mode="json")
        except ArtifactError:
            record = None
        expected = record_fields(lineage, params)
        if record is None or any(record[k] != v for k, v in expected.items()):
            names.remove(CHECKS_JSON)
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}-{os.getpid()}-", dir=dest.parent))
    try:
        for name in names:
            shutil.copy2(artifacts / name, stage / name)
        replace_directory(stage, dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return dest


def _base_gates(base_project: Path, dest: Path, uv: str | None, progress: Progress) -> None:
    """Run the base's gates (best effort) so that the report shows its values beside the PR's.

    A failed gate on the base is a value to show, not an error; a base whose ``make check``
    writes no ``checks.json`` (older, or broken) just has no gate values in the report.
    """
    progress(f"base: make {BASE_CHECK_TARGET} (its gate values, shown beside this PR's)")
    with (dest / "check.log").open("w", encoding="utf-8") as handle:
        run_process_group(
            ["make", "-C", str(base_project), BASE_CHECK_TARGET], handle, _base_env(uv)
        )
    source = ArtifactLayout.of(base_project).checks
    if source.is_file():
        shutil.copy2(source, ArtifactLayout(dest).checks)


def run_process_group(command: list[str], log: IO[str], env: dict[str, str]) -> int:
    """Run ``command`` in a process group of its own; return its exit status.

    If this process is interrupted (or the build exceeds :data:`BASE_TIMEOUT`), the whole group
    (make, uv, the base's training) is stopped with it: SIGTERM, then SIGKILL after
    :data:`STOP_GRACE` seconds. Nothing keeps running in a worktree that is being removed.
    """
    # A signal that lands between the fork and `process` being bound would leave the group
    # running with nobody to stop it: the stopping signals wait (blocked) until it is bound, and
    # the child unblocks them for itself before it runs make.
    process: subprocess.Popen[bytes] | None = None
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING_SIGNALS)
        try:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_unblock_stopping_signals,
            )
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING_SIGNALS)
        return process.wait(timeout=BASE_TIMEOUT)
    except BaseException:
        if process is not None:
            stop_group(process, STOP_GRACE)
        raise


def _unblock_stopping_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING_SIGNALS)
