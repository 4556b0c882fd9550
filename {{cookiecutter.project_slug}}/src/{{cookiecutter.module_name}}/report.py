"""The pull-request report: ``report.md`` and its images, compared with the base branch.

Reads a run's artifacts (``metrics.json``, ``lineage.json``, ``plots/``, and ``checks.json`` /
``checks.html`` once the gates ran) and writes a self-contained directory, by default
``artifacts/report/``: ``report.md`` (text only: it names the plots), copies of the plots and the
full gate report. Whether plots are published is not the report's decision: the comment
workflow decides from its own trusted configuration (:mod:`.pr_comment`).

The base branch's numbers come from retraining it: :func:`build_base` checks out the merge base
of ``HEAD`` and the base ref in a temporary ``git worktree``, runs its own ``make install train``
there and keeps its ``metrics.json`` and ``lineage.json`` (in ``artifacts/base/``). Training is
reproducible, so this equals what the base branch produced. ``--base-artifacts DIR`` reads a
base run from a directory instead (e.g. metrics committed on the main branch).

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
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from . import charts, git, tracking
from .artifacts import process_alive, replace_directory, sweep_stale
from .compare import (
    BETTER,
    MISSING,
    NEW,
    NOISE,
    REMOVED,
    UNCHANGED,
    WORSE,
    MetricChange,
    compare_metrics,
    diff_params,
    direction,
)
from .datastore import report_lines, share_with_worktree
from .diagnostics import Diagnostics, load_diagnostics
from .errors import ArtifactError, TrackingError
from .layout import (
    CHECKS_HTML,
    CHECKS_JSON,
    DIAGNOSTICS_FILE,
    LINEAGE_FILE,
    METRICS_FILE,
    PLOTS_DIR,
    REPORT_FILE,
    STUDY_FILE,
    ArtifactLayout,
)
from .processes import STOPPING_SIGNALS, stop_group
from .progress import Progress, quiet
from .records import ChecksRecord, DataInfo, Lineage, Metrics, StudySummary, TrackedRun
from .tune import produced, read_study, study_lines

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .config import Params

#: Name of the workflow artifact that carries the report (pr-report.yml uploads it).
ARTIFACT_NAME = "pr-report"
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

MARKS = {
    BETTER: "✅ better",
    WORSE: "❌ worse",
    NOISE: "≈ within noise",
    UNCHANGED: "unchanged",
    NEW: "new",
    REMOVED: "removed",
}


@dataclass(frozen=True)
class Run:
    """The artifacts of one training run (and its gates, when they ran)."""

    metrics: Metrics
    lineage: Lineage
    checks: ChecksRecord | None = None
    plots: tuple[Path, ...] = ()
    checks_html: Path | None = None
    diagnostics: Diagnostics | None = None
    tracked: TrackedRun | None = None
    #: The study committed next to params.yaml (``tune-study.json``), and whether this run's
    #: model has its best hyperparameters (False: the summary is stale).
    study: StudySummary | None = None
    study_current: bool = False


def load_run(artifacts: Path, *, gates_optional: bool = False) -> Run:
    """Read a run from an artifacts directory.

    ``gates_optional``: an unreadable ``checks.json`` counts as none (a base run's gate values
    are only shown beside the PR's).

    Raises:
        ArtifactError: ``metrics.json`` or ``lineage.json`` is missing or unreadable, or
            ``checks.json`` exists but is unreadable. A missing ``checks.json`` means the gates
            were not run, which the report says.
    """
    hint = "run `make train` first"
    layout = ArtifactLayout(artifacts)
    metrics = Metrics.read(layout.metrics, hint)
    lineage = Lineage.read(layout.lineage, hint)
    if metrics.split("test") is None:
        raise ArtifactError(f"{layout.metrics} has no 'test' metrics")
    checks = None
    if layout.checks.exists():
        try:
            checks = ChecksRecord.read(layout.checks)
        except ArtifactError:
            if not gates_optional:
                raise
    plots = tuple(sorted(layout.plots.glob("*.png")))
    html = layout.checks_html
    model_sha = lineage.model.sha256 or None
    return Run(
        metrics,
        lineage,
        checks,
        plots,
        html if html.is_file() else None,
        load_diagnostics(artifacts),
        tracking.read_tracked(artifacts, model_sha),
    )


@dataclass(frozen=True)
class Base:
    """The base branch's run, or why there is none (``run`` None and ``note`` says why)."""

    run: Run | None = None
    ref: str | None = None
    commit: str | None = None
    note: str = ""


def load_base(artifacts: Path, ref: str | None = None) -> Base:
    """Read a base run's ``metrics.json`` and ``lineage.json`` from a directory.

    Never raises for the base's records: ones this code cannot read (an old or broken run's)
    give a :class:`Base` whose ``note`` says so, and an unreadable gate record no base values.
    """
    if not ArtifactLayout(artifacts).metrics.is_file():
        return Base(ref=ref, note=f"no base metrics in {artifacts}")
    try:
        run = load_run(artifacts, gates_optional=True)
    except ArtifactError as exc:
        return Base(ref=ref, note=f"the base run is unreadable ({exc})")
    # The base's gate values are shown beside the PR's; its plots are not compared.
    base = Run(run.metrics, run.lineage, run.checks, diagnostics=run.diagnostics)
    return Base(run=base, ref=ref, commit=run.lineage.git.commit)


# --- the base branch, retrained in a git worktree ---------------------------------------------


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
    from .checks import record_fields
    from .lineage import ensure_current

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


# --- markdown ---------------------------------------------------------------------------------


def _cell(value: object) -> str:
    """Render a value for a table cell: one line, pipes escaped."""
    if value is MISSING:
        text = "(absent)"
    elif value is None:
        text = "n/a"
    elif isinstance(value, float):
        text = f"{value:.4g}" if abs(value) >= 1e4 or 0 < abs(value) < 1e-3 else f"{value:.4f}"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value)
    return " ".join(text.split()).replace("|", "\\|")


def _field(record: BaseModel, name: str, absent: object = MISSING) -> object:
    """A field of a record, or ``absent`` when the record does not have it (an older run's)."""
    return getattr(record, name) if name in record.model_fields_set else absent


def _code(value: object) -> str:
    return f"`{_cell(value)}`"


def _number(value: float | None) -> str:
    return "-" if value is None else _cell(float(value))


def _delta(change: MetricChange) -> str:
    if change.delta is None:
        return "-"
    if change.verdict == UNCHANGED:
        return "0"
    if 1e-4 <= abs(change.delta) < 1e4:  # as precise as the values (4 decimals)
        return f"{change.delta:+.4f}"
    return f"{change.delta:+.2e}"


def _param(value: object) -> str:
    """Render a parameter value as written in YAML/JSON (no rounding), in backticks."""
    text = "(absent)" if value is MISSING else json.dumps(value)
    return f"`{_cell(text)}`"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    """A GitHub table; ``align`` holds one of ``l``/``r``/``c`` per column (default left)."""
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    line = [marks[align[i]] if i < len(align) else "---" for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(line) + " |"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _details(summary: str, body: list[str], *, open_: bool = False) -> list[str]:
    tag = "<details open>" if open_ else "<details>"
    return [tag, f"<summary>{summary}</summary>", "", *body, "", "</details>"]


def verdict(checks: ChecksRecord | None) -> str:
    """The one-line verdict: all gates passed, N gates failed, or gates not run."""
    if checks is None:
        return "⚠️ **Gates were not run** (no `checks.json`): run `make check` before the report."
    gates = checks.gates
    failed = [g for g in gates if not g.passed]
    if failed:
        names = ", ".join(f"`{_cell(g.name)}`" for g in failed)
        noun = "gate" if len(gates) == 1 else "gates"
        return f"❌ **{len(failed)} of {len(gates)} {noun} failed**: {names}"
    if _field(checks, "passed", True) is False:
        return "❌ **The gates failed** (see the full gate report)."
    if not gates:
        return "✅ **No gates failed** (no gates are configured in params.yaml)."
    return "✅ **The gate passed**" if len(gates) == 1 else f"✅ **All {len(gates)} gates passed**"


def _gates_section(
    checks: ChecksRecord | None, base_checks: ChecksRecord | None = None
) -> list[str]:
    out = ["### Gates", ""]
    if checks is None:
        return [*out, "Gates were not run for this report.", ""]
    gates = checks.gates
    if not gates:
        return [*out, "No gates are configured (`gates:` in params.yaml).", ""]
    base_gates = {g.name: g for g in base_checks.gates} if base_checks else {}
    # Failing gates first; a table of passing gates only is collapsed.
    ordered = sorted(gates, key=lambda g: g.passed)
    rows = []
    for g in ordered:
        row = [
            _cell(g.name),
            _cell(g.suite),
            _cell(g.value),
            _cell(g.threshold),
            "✅ pass" if g.passed else "❌ **fail**",
            _cell(g.detail),
        ]
        if base_checks is not None:
            found = base_gates.get(g.name)
            row.insert(3, _cell(found.value) if found else "-")
        rows.append(row)
    header = ["Gate", "Suite", "Value", "Threshold", "Result", "Detail"]
    align = "llrrcl"
    if base_checks is not None:
        header.insert(3, "Base value")
        align = "llrrrcl"
    table = _table(header, rows, align)
    if any(not g.passed for g in gates):
        return [*out, *table, ""]
    return [*out, *_details("Every gate passed: values and thresholds", table), ""]


def _metric_rows(
    changes: list[MetricChange],
    with_base: bool,
    intervals: Mapping[str, tuple[float, float]] | None,
) -> list[list[str]]:
    rows = []
    for c in changes:
        arrow = {"higher": " ↑", "lower": " ↓"}.get(direction(c.name) or "", "")
        row = [f"{c.name}{arrow}", _number(c.pr)]
        if intervals is not None:
            low_high = intervals.get(c.name)
            row.append(f"{_number(low_high[0])} to {_number(low_high[1])}" if low_high else "-")
        if with_base:
            row += [_number(c.base), _delta(c), MARKS.get(c.verdict, c.verdict)]
        rows.append(row)
    return rows


def _intervals(run: Run) -> dict[str, tuple[float, float]] | None:
    if run.diagnostics is None:
        return None
    return {name: (i.low, i.high) for name, i in run.diagnostics.intervals.items()}


def _metrics_section(run: Run, base: Base) -> list[str]:
    base_metrics = base.run.metrics if base.run else None
    label = f"Base ({base.ref})" if base.ref else "Base"
    intervals = _intervals(run)
    diag = run.diagnostics
    out = ["### Metrics", "", "Test set (↑ higher is better, ↓ lower is better)."]
    if diag is not None:
        out[-1] += (
            f" The interval is where {diag.confidence:.0%} of the metric's values fall when the "
            f"{diag.test_rows} test rows are resampled ({diag.resamples} bootstrap resamples): "
            "a base value inside it is a change within the noise of this test set."
        )
    out.append("")
    for split in ("test", "train"):
        pr_split = run.metrics.split(split)
        if pr_split is None:
            continue
        split_intervals = intervals if split == "test" else None
        with_verdict = base_metrics is not None and split == "test"  # train: no interval either
        header = ["Metric", "This PR"]
        align = "lr"
        if split_intervals is not None:
            header.append(f"{diag.confidence:.0%} interval" if diag else "interval")
            align += "c"
        if base_metrics is not None:
            header += [label, "Change"] + ([""] if with_verdict else [])
            align += "rr" + ("l" if with_verdict else "")
        base_split = base_metrics.split(split) if base_metrics is not None else None
        changes = compare_metrics(pr_split, base_split, split_intervals)
        rows = _metric_rows(changes, base_metrics is not None, split_intervals)
        table = _table(header, [row[: len(header)] for row in rows], align)
        out += table if split == "test" else ["", *_details("Training-set metrics", table)]
    return [*out, ""]


def _charts_section(run: Run, base: Base) -> list[str]:
    """Mermaid charts (GitHub draws them from the comment's text: no image is uploaded)."""
    test = run.metrics.test
    base_test = base.run.metrics.test if base.run else None
    names = [n for n in test if base_test is None or n in base_test]
    if run.metrics.task == "regression":
        names = [n for n in names if n in {"rmse", "mae"}]  # one unit: the target's
    pr_values = [float(test[n]) for n in names]
    base_values = [float(base_test[n]) for n in names] if base_test is not None else None
    against = f", line: base ({base.ref or 'base'})" if base_values is not None else ""
    blocks = [
        charts.comparison_chart(
            f"Test metrics (bars: this PR{against})", names, pr_values, base_values
        )
    ]
    diag = run.diagnostics
    if diag is not None:
        blocks.append(charts.roc_chart(diag.roc_fpr, diag.roc_tpr))
        blocks.append(
            charts.histogram_chart(
                "Residuals (test): actual minus predicted",
                diag.residual_edges,
                diag.residual_counts,
            )
        )
        blocks.append(charts.importance_chart(diag.importance))
    drawn = [block for block in blocks if block]
    if not drawn:
        return []
    body: list[str] = []
    for block in drawn:
        body += [block, ""]
    return ["### Charts", "", *body]


def _per_class_section(run: Run) -> list[str]:
    diag = run.diagnostics
    if diag is None or not diag.per_class:
        return []
    rows = [
        [_cell(c.label), _number(c.precision), _number(c.recall), _number(c.f1), str(c.support)]
        for c in diag.per_class
    ]
    out = ["### Per class (test set)", ""]
    out += _table(["Class", "Precision", "Recall", "F1", "Rows"], rows, "lrrrr")
    if diag.confusion:
        header = ["actual / predicted", *(_cell(label) for label in diag.confusion_labels)]
        matrix = [
            [f"**{_cell(label)}**", *(str(v) for v in row)]
            for label, row in zip(diag.confusion_labels, diag.confusion, strict=True)
        ]
        out += [
            "",
            "Confusion matrix:",
            "",
            *_table(header, matrix, "l" + "r" * len(diag.confusion_labels)),
        ]
    return [*out, ""]


def _tracking_section(run: Run, history: History | None) -> list[str]:
    if not tracking.enabled():
        return []
    out = ["### Experiment tracking", ""]
    tracked = run.tracked
    if tracked is None:
        out.append("This run was not logged to the tracker (see the training log's warning).")
    elif tracked.url:
        # A plain address: GitHub links it; the comment escapes markdown links.
        out.append(f"MLflow run `{tracked.run_id[:8]}` of `{tracked.experiment}`: {tracked.url}")
    else:
        out.append(
            f"Logged as run `{tracked.run_id}` of `{tracked.experiment}` in the workflow's own "
            "MLflow store (set the `MLFLOW_TRACKING_URI` secret to keep runs on a team server)."
        )
    if history is not None:
        out += ["", *history.lines()]
    return [*out, ""]


def _study_section(run: Run) -> list[str]:
    study = run.study
    if study is None:
        return []
    out = ["### Hyperparameter tuning", ""]
    if not run.study_current:
        best = ", ".join(f"`{_cell(k)}: {_cell(v)}`" for k, v in study.best_params.items())
        return [
            *out,
            f"`{STUDY_FILE}` is stale: its study's best `{_cell(study.model_type)}` "
            f"hyperparameters ({best}) are not this run's, so it did not produce this change "
            f"(`make tune APPLY=1` writes a current one; or delete the file).",
            "",
        ]
    return [
        *out,
        f"This run's `{_cell(study.model_type)}` hyperparameters are the best of a tuning study "
        f"(`{STUDY_FILE}`, written by `make tune APPLY=1`):",
        "",
        *study_lines(study),
        "",
    ]


def _params_section(run: Run, base: Base) -> list[str]:
    out = ["### Parameters changed from the base", ""]
    if base.run is None:
        return [*out, "No base run to compare with.", ""]
    changes = diff_params(run.lineage.params, base.run.lineage.params)
    if not changes:
        return [*out, "None: params.yaml is the same as on the base.", ""]
    rows = [[_code(c.key), _param(c.base), _param(c.pr)] for c in changes]
    return [*out, *_table(["Parameter", "Base", "This PR"], rows), ""]


def _feature_kinds(data: DataInfo) -> str:
    kinds = [f.kind for f in data.features]
    return f"{kinds.count('numeric')} numeric, {kinds.count('categorical')} categorical"


def _data_section(run: Run, base: Base) -> list[str]:
    data = run.lineage.data
    base_data = base.run.lineage.data if base.run else None
    out = ["### Data", ""]
    fingerprint = data.sha256
    if base_data is None:
        out.append(f"Fingerprint `{fingerprint[:12]}` (no base run to compare with).")
    elif fingerprint == base_data.sha256:
        out.append(f"Data unchanged: same fingerprint `{fingerprint[:12]}` as the base.")
    else:
        old = (base_data.sha256 or "none")[:12]
        out.append(f"**Data changed**: fingerprint `{old}` on the base, `{fingerprint[:12]}` here.")
    out += ["", *report_lines(data, base_data)]  # the DVC version (datastore.py)
    keys = [
        ("File", "path"),
        ("Rows", "rows"),
        ("Columns", "columns"),
        ("Train rows", "train_rows"),
        ("Test rows", "test_rows"),
        ("Target", "target"),
    ]
    header = ["", "This PR"] + (["Base"] if base_data is not None else [])
    rows = []
    for label, key in keys:
        row = [label, _cell(_field(data, key))]
        if base_data is not None:
            row.append(_cell(_field(base_data, key)))
        rows.append(row)
    rows.append(
        ["Features", _feature_kinds(data)]
        + ([_feature_kinds(base_data)] if base_data is not None else [])
    )
    return [*out, "", *_table(header, rows, "lrr"), ""]


def _plots_section(plots: Sequence[str]) -> list[str]:
    out = ["### Plots", ""]
    if not plots:
        return [*out, "This run wrote no plots.", ""]
    names = ", ".join(f"`{rel}`" for rel in plots)
    return [*out, f"In this workflow run's `{ARTIFACT_NAME}` artifact: {names}.", ""]


def _lineage_section(run: Run) -> list[str]:
    lineage = run.lineage
    model, data = lineage.model, lineage.data
    commit = lineage.git.commit or "unknown"
    dirty = " (uncommitted changes)" if lineage.git.dirty else ""
    started, finished = (_field(lineage, key, None) for key in ("started_at", "finished_at"))
    model_sha = _code(_field(model, "sha256", None))
    rows = [
        ["Commit", f"`{_cell(commit)}`{dirty}"],
        ["Data sha256", _code(_field(data, "sha256", "unknown"))],
        ["Model", f"{_cell(_field(model, 'type', 'unknown'))}, sha256 {model_sha}"],
        ["Seed", _cell(_field(lineage, "seed"))],
        ["Trained", f"{_cell(started)} → {_cell(finished)}"],
    ]
    body = _table(["", ""], rows)
    if lineage.packages:
        versions = [[_cell(k), _cell(v)] for k, v in lineage.packages.items()]
        body += ["", *_table(["Package", "Version"], versions)]
    summary = f"Lineage: commit {commit[:7]}, data {data.sha256[:8]}, model {model.sha256[:8]}"
    return ["### Lineage", "", *_details(summary, body), ""]


@dataclass(frozen=True)
class History:
    """The base branch's last tracked runs (newest first), or why there are none."""

    branch: str
    metric: str
    rows: tuple[tracking.HistoryRow, ...] = ()
    note: str = ""

    def lines(self) -> list[str]:
        """The markdown of the history: a trend chart and a table, or the note."""
        if not self.rows:
            return [f"History of `{self.branch}`: {self.note or 'no tracked runs yet'}."]
        oldest_first = list(reversed(self.rows))
        values = [r.value for r in oldest_first if r.value is not None]
        labels = [r.commit or r.run_id[:7] for r in oldest_first if r.value is not None]
        chart = charts.trend_chart(f"{self.metric} on {self.branch}, oldest first", labels, values)
        rows = [
            [_cell(r.started), _code(r.commit or "-"), _number(r.value), _cell(r.gates)]
            for r in self.rows
        ]
        table = _table(["Started (UTC)", "Commit", self.metric, "Gates"], rows, "llrl")
        body = ([chart, ""] if chart else []) + table
        return _details(f"Last {len(self.rows)} tracked runs on `{self.branch}`", body)


def base_history(root: Path, base: Base, task: str, lineage: Lineage) -> History | None:
    """The last tracked runs of the base branch, read from the tracking store (None: off)."""
    if not tracking.enabled() or not base.ref or task not in tracking.MAIN_METRIC:
        return None
    branch = base.ref.removeprefix("origin/")
    metric = f"test_{tracking.MAIN_METRIC[task]}"
    uri = tracking.store_uri(root)
    embedded = root / tracking.STORE_DIR / tracking.STORE_DB
    if not os.environ.get(tracking.URI_ENV, "").strip() and not embedded.is_file():
        return History(branch, metric, note="the tracking store holds no runs yet")
    try:
        experiment = tracking.experiment_name(lineage.project)
        rows = tracking.history(root, branch, task, experiment, limit=10)
    except TrackingError as exc:
        return History(branch, metric, note=f"cannot read {tracking.public_uri(uri)} ({exc})")
    return History(branch, metric, tuple(rows))


def render(
    run: Run,
    base: Base,
    *,
    plots: Sequence[str] = (),
    history: History | None = None,
) -> str:
    """Render the report's markdown.

    Args:
        run: this PR's run.
        base: the base run, or a note saying why there is none.
        plots: plot paths relative to the report file (as copied next to it), listed by name.
        history: the base branch's last tracked runs, when tracking is on.
    """
    project = run.lineage.project or run.lineage.model_name or "model"
    if base.run is not None:
        against = f"Compared with `{base.ref or 'base'}`" + (
            f" at {str(base.commit)[:7]} (merge base)." if base.commit else "."
        )
    else:
        against = f"No base-branch comparison: {base.note or 'no base given'}."
    task = run.metrics.task or run.lineage.task
    lines = [
        f"## Model report: {project}",
        "",
        verdict(run.checks),
        "",
        f"{task.capitalize()} model. {against}".strip(),
        "",
        *_gates_section(run.checks, base.run.checks if base.run else None),
        *_metrics_section(run, base),
        *_charts_section(run, base),
        *_per_class_section(run),
        *_params_section(run, base),
        *_study_section(run),
        *_data_section(run, base),
        *_plots_section(plots),
        *_tracking_section(run, history),
        *_lineage_section(run),
        "### Full gate report",
        "",
    ]
    if run.checks_html is not None:
        connected = run.checks.html_connected if run.checks else None
        modes: dict[object, str] = {
            True: "connected mode: it loads its scripts from a CDN, so viewing needs internet "
            "(`checks.html_connected: false` in params.yaml makes it self-contained)",
            False: "self-contained mode: it opens offline",
        }
        mode = modes.get(connected, "mode not recorded")
        lines.append(
            f"The full deepchecks report (`{CHECKS_HTML}`, {mode}) is in this workflow run's "
            f"`{ARTIFACT_NAME}` artifact: download it and open it in a browser."
        )
    else:
        lines.append("No deepchecks report: the gates were not run.")
    return "\n".join(lines).rstrip() + "\n"


def write_report(run: Run, base: Base, out_dir: Path, history: History | None = None) -> Path:
    """Write ``report.md``, the plots and the gate report into ``out_dir``.

    The directory is built next to ``out_dir`` and swapped in at the end: a failure leaves the
    previous report untouched. Returns the path of ``report.md``.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(out_dir.parent)
    prefix = f".{out_dir.name}-{os.getpid()}-"
    stage = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent))
    mask = os.umask(0o022)
    os.umask(mask)
    stage.chmod(0o777 & ~mask)  # mkdtemp creates 0700; give the usual directory permissions
    try:
        plots = []
        if run.plots:
            (stage / PLOTS_DIR).mkdir()
        for plot in run.plots:
            shutil.copy2(plot, stage / PLOTS_DIR / plot.name)
            plots.append(f"{PLOTS_DIR}/{plot.name}")
        if run.checks_html is not None:
            shutil.copy2(run.checks_html, stage / CHECKS_HTML)
        text = render(run, base, plots=plots, history=history)
        (stage / REPORT_FILE).write_text(text, "utf-8")
        replace_directory(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out_dir / REPORT_FILE


def run_report(
    root: Path,
    artifacts: Path,
    *,
    out: Path | None = None,
    base_ref: str | None = None,
    base_artifacts: Path | None = None,
    base_run: Path | None = None,
    uv: str | None = None,
    progress: Progress = quiet,
    params: Params | None = None,
) -> Path:
    """Build the report of the run in ``artifacts``; return the path of ``report.md``.

    With ``params`` the run must be current (:func:`~.lineage.ensure_current`): trained with
    these params and the data file they name.
    """
    layout = ArtifactLayout(artifacts)
    run = load_run(artifacts)
    study = read_study(root)
    if study is not None:
        model = run.lineage.params.get("model") or {}
        current = produced(study, str(model.get("type")), model.get("params") or {})
        run = dataclasses.replace(run, study=study, study_current=current)
    if params is not None:
        from .lineage import ensure_current

        ensure_current(params, root, artifacts)
    if base_ref:
        base = build_base(base_ref, root, layout.base, uv=uv, saved=base_run, progress=progress)
    elif base_artifacts is not None:
        base = load_base(base_artifacts, ref=str(base_artifacts))
    else:
        base = Base(note="no base given (`make report BASE=origin/main` compares with main)")
    if base.run is None:
        progress(f"no base comparison: {base.note}")
    task = run.metrics.task
    history = base_history(root, base, task, run.lineage)
    return write_report(run, base, out or layout.report, history)
