"""Command-line interface: ``python -m <package> <command>``, the project's only one.

Each command is one small function that resolves paths, calls the library and prints what it
did; :data:`COMMANDS` lists them. Heavy libraries (pandas, scikit-learn, matplotlib, deepchecks,
bentoml, gto) are imported inside the command functions so that ``--help`` starts fast.

Exit status:

- 0: done (``monitor``: the batch is stable).
- 1: a quality gate failed (``check``).
- 2: an error the user can fix (:class:`~.errors.ProjectError`, e.g. bad params or data, a
  missing or stale artifact, a refused release): one ``error: <message>`` line on stderr.
- 3: drift (``monitor``: a monitoring threshold was exceeded; ``--exit-zero`` turns it into 0).

Values from outside (tags, workflow inputs, make variables) arrive as arguments and are data:
each command checks their format (versions, stages, tag and branch names, image references) and
that paths stay inside the project before acting on them. This module and the commands that
need no third-party library (``pr-comment``) import only the standard library, so that they run
on a bare ``python3``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from . import __version__, git, release  # release.py is light: gto is imported by its functions
from .artifacts import disk_full_is_an_error, ensure_inside
from .errors import Interrupted, ProjectError, ReleaseError, TrackingError
from .layout import ArtifactLayout
from .processes import STOPPING_SIGNALS
from .progress import Progress

if TYPE_CHECKING:
    from .config import Params  # imported lazily at run time (pydantic models)
    from .monitor import DataUpdate
    from .train import TrainResult

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_ERROR = 2
EXIT_DRIFT = 3  # monitor.EXIT_DRIFT: the exit code its summary records


def _progress(stage: str) -> Progress:
    def emit(message: str) -> None:
        print(f"[{stage}] {message}", flush=True)

    return emit


def _load(args: argparse.Namespace) -> Params:
    from .config import load_params

    return load_params(args.params)


def _root(args: argparse.Namespace) -> Path:
    """The project directory: the directory of the params file (paths in it are relative)."""
    return Path(args.params).parent


def _layout(args: argparse.Namespace) -> ArtifactLayout:
    """The artifacts of ``--artifacts`` (inside the project), else of the project's folder."""
    chosen = _inside(args, args.artifacts, "--artifacts") if args.artifacts else None
    return ArtifactLayout.of(_root(args), chosen)


def _artifacts(args: argparse.Namespace) -> Path:
    """The artifacts directory (see :func:`_layout`)."""
    return _layout(args).dir


def _inside(args: argparse.Namespace, path: str | Path, what: str) -> Path:
    """``path`` (relative to the project) if it resolves inside the project; refuse it otherwise."""
    root = _root(args)
    ensure_inside(root / path, [root], f"{what} {str(path)!r}", "commands stay inside it")
    return root / path


def write_github_output(values: dict[str, str]) -> None:
    """Append step outputs to the file named by $GITHUB_OUTPUT.

    A value with a line break is written in GitHub's delimited form, with a random delimiter,
    so that no value can add an output of its own.
    """
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        raise ProjectError("--github-output needs the GITHUB_OUTPUT environment variable")
    with Path(target).open("a", encoding="utf-8") as handle:
        for name, value in values.items():
            if not name.replace("_", "").replace("-", "").isalnum():
                raise ProjectError(f"{name!r} is not a step output name")
            if "\n" not in value and "\r" not in value:
                handle.write(f"{name}={value}\n")
                continue
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def _add_github_output(parser: argparse.ArgumentParser, what: str = "step outputs") -> None:
    parser.add_argument(
        "--github-output", action="store_true", help=f"write {what} to $GITHUB_OUTPUT"
    )


def cmd_data(args: argparse.Namespace) -> int:
    """Get the data params.yaml names: pull its DVC version, or write the sample to its own file."""
    from .data import get_data
    from .errors import DataError

    params = _load(args)
    try:
        fetched = get_data(params, _root(args))
    except DataError as exc:
        if args.fork_pr != "true":
            raise
        return _no_data_for_fork(args, str(exc))
    said = {
        "pulled": f"pulled the version its DVC pointer names (md5 {(fetched.md5 or '')[:12]})",
        "in-sync": "is the version its DVC pointer names",
        "modified": "differs from the version its DVC pointer names: using it as it is "
        "(`make track` versions it)",
        "untracked": "exists (not tracked by DVC: `make track` versions it); left untouched",
        "sample": f"written: the bundled {params.task} sample (params name its file)",
    }
    print(f"[data] {fetched.path} {said[fetched.how]}")
    if args.github_output:
        write_github_output({"available": "true"})
    return EXIT_OK


def _no_data_for_fork(args: argparse.Namespace, why: str) -> int:
    """A fork PR gets no secrets, so no data: write a report that says so, never the sample."""
    from .datastore import write_fork_notice

    path = write_fork_notice(_artifacts(args), why)
    print(f"[data] data not available to fork PRs ({why}); wrote {path}")
    if args.github_output:
        write_github_output({"available": "false"})
    return EXIT_OK


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``data``."""
    parser.add_argument(
        "--fork-pr",
        choices=["true", "false"],
        default="false",
        help="a pull request from a fork (no secrets): data that cannot be pulled gives a "
        "'data not available' report (artifacts/report/) and exit 0 instead of an error",
    )
    _add_github_output(parser, "available=true|false")


def cmd_sample(args: argparse.Namespace) -> int:
    """Write the bundled sample dataset to its own file (data/<sample>.csv; never overwrites)."""
    from .artifacts import display_path
    from .data import write_sample

    params = _load(args)
    path, written = write_sample(params.task, _root(args))
    shown = display_path(path, _root(args))
    print(f"[sample] {'wrote' if written else 'left untouched'} {shown} ({params.task} sample)")
    return EXIT_OK


def _data_path(args: argparse.Namespace) -> str:
    """``--path`` (checked to stay inside the project), else data.path of the params."""
    if args.path is None:
        return _load(args).data.path
    _inside(args, args.path, "--path")
    return str(args.path)


def cmd_track(args: argparse.Namespace) -> int:
    """Version the data file with DVC (pointer <file>.dvc for git) and push it to the remote."""
    from .datastore import push, track

    root, path = _root(args), _data_path(args)
    version = track(root, path)
    print(f"[track] {path}: DVC version {version.md5[:12]} ({version.size} bytes)")
    if not args.no_push:
        push(root, path)
        print(f"[track] pushed to the DVC remote; commit {version.pointer}")
    else:
        print(f"[track] commit {version.pointer}; `make push` uploads the data")
    return EXIT_OK


def cmd_adopt(args: argparse.Namespace) -> int:
    """Make a CSV the project's data: params, DVC tracking, gates from a first run, training."""
    from .adopt import GATE_MARGIN, GATE_SLACK, adopt

    if not args.data or not args.target:
        raise ProjectError("adopt needs a data file and its target: make adopt DATA=x.csv TARGET=y")
    _inside(args, args.data, "DATA")
    result = adopt(
        _root(args), args.data, args.target, args.task, Path(args.params), _progress("adopt")
    )
    print(
        f"[adopt] changed (gate margin: {GATE_MARGIN:.0%} of the measured value, at least "
        f"{GATE_SLACK}):"
    )
    for change in result.changes:
        print(f"  - {change}")
    print(
        "[adopt] next: review `git diff params.yaml`, run `make check test`, commit params.yaml "
        f"and {result.params.data.path}.dvc"
    )
    return EXIT_OK


def add_adopt_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``adopt``: the data file, its target column and, optionally, the task."""
    parser.add_argument("--data", help="CSV file, relative to the project (DATA=)")
    parser.add_argument("--target", help="column to predict (TARGET=)")
    parser.add_argument(
        "--task", choices=["classification", "regression"], help="default: inferred from the target"
    )


def cmd_push(args: argparse.Namespace) -> int:
    """Upload the data version the DVC pointer names to the project's DVC remote."""
    from .datastore import push

    path = _data_path(args)
    version = push(_root(args), path)
    print(f"[push] {path}: version {version.md5[:12]} is in the DVC remote")
    return EXIT_OK


def add_path_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``track`` and ``push``."""
    parser.add_argument(
        "--path", default=None, metavar="FILE", help="data file (default: data.path in params)"
    )


def add_track_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``track``."""
    add_path_arguments(parser)
    parser.add_argument("--no-push", action="store_true", help="track only; push later")


def cmd_remote(args: argparse.Namespace) -> int:
    """Set the project's DVC remote (.dvc/config): S3, GCS, Azure, SSH or a local folder."""
    from .datastore import remote, set_remote

    root = _root(args)
    if args.url is None:
        found = remote(root)
        print(f"[remote] {found.name}: {found.url}" if found else "[remote] none configured")
        return EXIT_OK
    configured = set_remote(root, args.url, args.endpoint)
    print(f"[remote] default DVC remote {configured.name!r} is now {configured.url}")
    print("[remote] commit .dvc/config; credentials come from the environment (README 'Data')")
    return EXIT_OK


def add_remote_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``remote``."""
    parser.add_argument("--url", default=None, help="remote URL (none: show the current one)")
    parser.add_argument("--endpoint", default=None, help="endpoint of an S3-compatible store")


def cmd_train(args: argparse.Namespace) -> int:
    """Validate the data, train, evaluate and write artifacts (model, metrics, plots, lineage)."""
    _train(args)
    return 0


def _train(args: argparse.Namespace) -> None:
    from .train import run_training

    params = _load(args)
    progress = _progress("train")
    result = run_training(params, _root(args), _artifacts(args), progress=progress)
    test = ", ".join(f"{name} {value:.4f}" for name, value in result.metrics["test"].items())
    print(f"[train] test metrics: {test}")
    print(f"[train] done in {result.seconds:.1f} s")
    _track(args, result, progress)


def _track(args: argparse.Namespace, result: TrainResult, progress: Progress) -> None:
    """Log the finished run to the experiment tracker (one warning line if that fails)."""
    from . import tracking

    layout = ArtifactLayout(result.artifacts_dir)
    files = (layout.plots, layout.metrics, layout.diagnostics, layout.lineage)
    run = tracking.TrainingRun(
        result.lineage.to_json(),
        result.metrics,
        result.artifacts_dir,
        files,
        result.model,
        result.example,
        command=args.command,
    )
    tracked = tracking.log_training(run, _root(args), progress)
    if tracked is not None:
        where = tracked.url or f"{tracked.store} (`make ui` to browse)"
        progress(f"logged run {tracked.run_id} of experiment {tracked.experiment!r} to {where}")


def cmd_lineage(args: argparse.Namespace) -> int:
    """Print the lineage record of the last training run (JSON)."""
    from .lineage import read_lineage

    sys.stdout.write(read_lineage(_artifacts(args)))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Run the deepchecks suites and the quality gates; exit 1 if a gate fails."""
    return EXIT_OK if _check(args) else EXIT_GATE_FAILED


def _check(args: argparse.Namespace) -> bool:
    from .checks import run_project_checks

    layout = _layout(args)
    result = run_project_checks(_load(args), _root(args), layout.dir, progress=_progress("check"))
    print(result.table())
    print(f"[check] wrote {layout.checks} and {layout.checks_html}")
    _track_checks(args, layout.dir, result.passed, (layout.checks,))
    return result.passed


def _track_checks(
    args: argparse.Namespace, artifacts: Path, passed: bool, files: tuple[Path, ...]
) -> None:
    """Add the gate summary to this model's tracked run, if it was tracked."""
    from . import tracking
    from .artifacts import read_json

    lineage = read_json(ArtifactLayout(artifacts).lineage, "run `make train` first")
    model_sha = (lineage.get("model") or {}).get("sha256") if isinstance(lineage, dict) else None
    progress = _progress("check")
    if tracking.log_checks(artifacts, model_sha, files, passed, _root(args), progress):
        progress("logged the gate results to the tracked run")


def cmd_runs(args: argparse.Namespace) -> int:
    """List the last tracked runs of a branch with the trend of the main metric."""
    from . import distribution_name, tracking

    branch = args.branch or git.branch(_root(args)) or "main"
    release.ensure_ref_name(branch, "--branch")
    params = _load(args)
    experiment = os.environ.get(tracking.EXPERIMENT_ENV, "").strip() or distribution_name()
    try:
        rows = tracking.history(_root(args), branch, params.task, experiment, args.limit)
    except TrackingError as exc:
        raise ProjectError(str(exc)) from None
    print(tracking.history_text(rows, branch, params.task))
    return EXIT_OK


def add_runs_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``runs``."""
    parser.add_argument(
        "--branch", default=None, help="branch whose runs to list (default: current)"
    )
    parser.add_argument(
        "--limit", type=int, default=10, help="how many runs (default: %(default)s)"
    )


# --- report -----------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    """Build the pull-request report (artifacts/report/report.md), optionally against a base."""
    from .report import run_report

    base = args.base_artifacts
    with interrupted_by_signals():  # SIGTERM too runs the cleanup of the base's worktree
        path = run_report(
            _root(args),
            _artifacts(args),
            out=_inside(args, args.out, "--out") if args.out else None,
            base_ref=release.ensure_ref_name(args.base, "--base") if args.base else None,
            base_artifacts=_inside(args, base, "--base-artifacts") if base else None,
            base_run=_inside(args, args.base_run, "--base-run") if args.base_run else None,
            uv=args.uv,
            progress=_progress("report"),
            params=_load(args),
        )
    print(f"[report] wrote {path}")
    return EXIT_OK


@contextlib.contextmanager
def interrupted_by_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into :class:`Interrupted` for a block.

    A stopped command then unwinds: its ``finally`` blocks remove temporary worktrees and stop
    the processes it started, instead of dying on the spot, and it exits with one error line.
    """

    def stop(signum: int, _frame: object) -> None:
        raise Interrupted(f"stopped by {signal.Signals(signum).name}; cleaned up")

    previous = {sig: signal.signal(sig, stop) for sig in STOPPING_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``report``."""
    parser.add_argument(
        "--out", default=None, metavar="DIR", help="report directory (default: ARTIFACTS/report)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--base",
        default=None,
        metavar="REF",
        help="compare with this git ref (e.g. origin/main): retrain its merge base in a worktree",
    )
    source.add_argument(
        "--base-artifacts",
        default=None,
        metavar="DIR",
        help="compare with the run in DIR (metrics.json, lineage.json) instead of retraining",
    )
    parser.add_argument(
        "--base-run",
        default=None,
        metavar="DIR",
        help="with --base: a saved run (`base-run`) used instead of retraining when it is of the "
        "merge base",
    )
    parser.add_argument(
        "--uv", default=None, metavar="PATH", help="uv executable for the base's `make install`"
    )


def cmd_base_run(args: argparse.Namespace) -> int:
    """Save the current run (clean checkout) in --out for the PR reports of later commits."""
    from .report import save_base_run

    out = _inside(args, args.out, "--out")
    dest = save_base_run(_root(args), _artifacts(args), out, _load(args))
    print(f"[base-run] saved the run's metrics, lineage and gates in {dest}")
    return EXIT_OK


def add_base_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``base-run``."""
    parser.add_argument("--out", required=True, metavar="DIR", help="where to save the run")


# --- pull-request comment (runs on a bare python3: standard library only) -----------------------


def cmd_pr_comment(args: argparse.Namespace) -> int:
    """Check the pr-report artifact and write the comment to post (the comment workflow)."""
    from .pr_comment import prepare_comment

    comment = prepare_comment(
        Path(args.report),
        Path(args.out),
        pull_requests=args.pull_requests,
        head_sha=args.head_sha,
        head_repository=args.head_repository,
        repository=args.repository,
        images=args.images,
    )
    print(
        f"[pr-comment] PR #{comment.number}: {comment.path} "
        f"({len(comment.plots)} plot(s) to publish)"
    )
    if args.github_output:
        write_github_output(
            {"number": str(comment.number), "publish": "true" if comment.plots else "false"}
        )
    return EXIT_OK


def add_pr_comment_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``pr-comment``."""
    from .pr_comment import IMAGE_MODES

    parser.add_argument("--report", required=True, metavar="DIR", help="the downloaded artifact")
    parser.add_argument("--out", required=True, metavar="DIR", help="where the comment goes")
    parser.add_argument(
        "--pull-requests",
        default="[]",
        metavar="JSON",
        help="the triggering run's pull requests (github.event.workflow_run.pull_requests)",
    )
    parser.add_argument("--head-sha", required=True, help="the commit the report was built from")
    parser.add_argument(
        "--head-repository", required=True, help="OWNER/NAME the pull request comes from"
    )
    parser.add_argument("--repository", required=True, help="OWNER/NAME of this repository")
    parser.add_argument(
        "--images",
        choices=IMAGE_MODES,
        default="artifact",
        help="publish: upload the report's plots (never for forks); artifact: never",
    )
    _add_github_output(parser, "number=... and publish=...")


# --- serving ----------------------------------------------------------------------------------


def cmd_bento(args: argparse.Namespace) -> int:
    """Save the trained model to the BentoML store and build the bento."""
    from .bento import save_and_build, save_model
    from .lineage import ensure_current

    root, artifacts = _root(args), _artifacts(args)
    lineage = ensure_current(_load(args), root, artifacts)
    if args.no_build:
        print(f"[bento] saved model {save_model(artifacts)}")
        return EXIT_OK
    model, bento = save_and_build(artifacts, root / "bentofile.yaml", root / "src", root, lineage)
    print(f"[bento] saved model {model}, built bento {bento}")
    return EXIT_OK


def add_bento_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``bento``."""
    parser.add_argument(
        "--no-build",
        action="store_true",
        help="only save the model to the BentoML store; do not build the bento",
    )


# --- monitoring -------------------------------------------------------------------------------


def cmd_monitor(args: argparse.Namespace) -> int:
    """Check a batch of new data for drift against the training data and the model."""
    from .layout import MONITOR_HTML, MONITOR_JSON, MONITOR_MD
    from .monitor import monitor, render_markdown, summary_table

    summary = monitor(_load(args), _root(args), _artifacts(args), args.current)
    print(summary_table(summary))
    print(f"[monitor] wrote {MONITOR_JSON}, {MONITOR_MD}, {MONITOR_HTML} in {summary.seconds} s")
    if args.github_output:
        write_github_output(
            {
                "verdict": summary.verdict,
                "retrain": str(summary.retrain).lower(),
                "drifted_features": ",".join(summary.drifted_features),
            }
        )
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            with Path(step_summary).open("a", encoding="utf-8") as handle:
                handle.write(render_markdown(summary))
    if summary.verdict != "stable" and args.exit_zero:
        print(f"[monitor] verdict {summary.verdict}: exit 0 (--exit-zero)")
        return EXIT_OK
    return summary.exit_code


def cmd_batches(args: argparse.Namespace) -> int:
    """Write example batches of new data: stable.csv and drifted.csv (deterministic)."""
    from .artifacts import display_path
    from .monitor import write_batches

    root = _root(args)
    result = write_batches(_load(args), root, _inside(args, args.out, "--out"), args.rows)
    for name, path in result["paths"].items():
        print(f"[batches] wrote {display_path(path, root)} ({result['rows']} rows, {name})")
    print(f"[batches] drifted.csv shifts: {', '.join(result['shifted'])}")
    return EXIT_OK


def cmd_update_data(args: argparse.Namespace) -> int:
    """Append a labelled batch to the training data, or replace it (monitor.retrain)."""
    from .monitor import finish_update

    update = _update_data(args)
    finish_update(update)
    _publish_update(args, update)
    return EXIT_OK


def cmd_retrain(args: argparse.Namespace) -> int:
    """Fold a labelled batch into the training data, retrain and gate; undo it if a gate fails.

    Idempotent: a batch already folded in (its content hash is in the data's ledger) is not added
    again, so a rerun after a kill only retrains. If training fails or a gate fails, the data
    file gets its previous content back and the ledger forgets the batch.
    """
    from .monitor import finish_update

    update = _update_data(args)
    try:
        _train(args)
        passed = _check(args)
    except BaseException:
        _undo_update(update, "training or the checks failed")
        raise
    if not passed:
        _undo_update(update, "a gate failed")
        return EXIT_GATE_FAILED
    finish_update(update)
    _publish_update(args, update)
    return EXIT_OK


def _undo_update(update: DataUpdate, why: str) -> None:
    from .monitor import restore_training_data

    if not (update.root / update.backup).is_file():  # an earlier retrain kept the batch
        print(f"[retrain] {why}; {update.source} was kept by an earlier retrain: data unchanged")
        return
    restore_training_data(update)
    print(f"[retrain] {why}: restored {update.path}; the batch was not folded in")


def _update_data(args: argparse.Namespace) -> DataUpdate:
    from .monitor import update_training_data

    update = update_training_data(_load(args), _root(args), args.current, args.mode)
    if update.already_folded:
        print(
            f"[retrain] {update.source} is already in {update.path} (batch sha256 "
            f"{update.batch_sha256[:12]}): not added again"
        )
        return update
    print(
        f"[retrain] {update.mode}: {update.path} {update.rows_before} -> {update.rows_after} rows "
        f"(+{update.added_rows} from {update.source}), sha256 {update.after_sha256[:12]}"
    )
    if update.filled_columns:
        print(f"[retrain] left empty (not in the batch): {', '.join(update.filled_columns)}")
    return update


def _publish_update(args: argparse.Namespace, update: DataUpdate) -> None:
    """Version the new data with DVC and stage its pointer and ledger; write the step outputs."""
    from .monitor import version_update

    staged: list[str] = []
    if args.git_add:
        staged = version_update(update)
        print(f"[retrain] new data version pushed to the DVC remote; staged {', '.join(staged)}")
    if args.github_output:
        write_github_output(
            {
                "data_path": update.path,
                "ledger_path": update.ledger,
                "add_paths": "\n".join(staged),
                "rows": str(update.rows_after),
            }
        )


def _add_current(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--current",
        default=None,
        metavar="PATH_OR_GLOB",
        help="batch CSV file or glob (default: monitor.source in params)",
    )
    _add_github_output(parser)


def add_monitor_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``monitor``."""
    _add_current(parser)
    parser.add_argument(
        "--exit-zero",
        action="store_true",
        help=f"exit 0 instead of {EXIT_DRIFT} when a threshold is exceeded (see the verdict)",
    )


def add_batches_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``batches``."""
    parser.add_argument(
        "--out",
        default="data/batches",
        metavar="DIR",
        help="output folder, relative to the params file (default: %(default)s)",
    )
    parser.add_argument("--rows", type=int, default=200, help="rows per batch (default: 200)")


def add_update_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``update-data``."""
    _add_current(parser)
    parser.add_argument(
        "--mode", choices=["append", "replace"], default=None, help="override monitor.retrain"
    )
    parser.add_argument(
        "--git-add",
        action="store_true",
        help="version the new data with DVC (track, push) and git add its pointer and the ledger",
    )


# --- batch scoring and tuning -----------------------------------------------------------------


def _data_file(args: argparse.Namespace, params: Params, path: str, what: str) -> Path:
    """``path`` (relative to the project) if it resolves inside the project or external_dir."""
    from .config import data_folders

    root = _root(args)
    ensure_inside(root / path, data_folders(params, root), f"{what} {path!r}")
    return root / path


def cmd_predict(args: argparse.Namespace) -> int:
    """Score a CSV or Parquet file in chunks: one prediction per row (in-process or on Dask)."""
    from .predict import Job, load_last_run, load_stage, run

    params = _load(args)
    job = Job(
        input=_data_file(args, params, args.input, "--input"),
        output=_data_file(args, params, args.output, "--output"),
        id_column=args.id_column,
        rejects=_data_file(args, params, args.rejects, "--rejects") if args.rejects else None,
        chunk_rows=args.chunk_rows,
        scheduler=args.scheduler or None,
        label=args.input,
    )
    if args.stage:
        model = load_stage(args.stage, _root(args), _artifacts(args))
    else:
        model = load_last_run(params, _root(args), _artifacts(args))
    progress = _progress("predict")
    progress(f"model: {model.source}")
    summary = run(job, model, progress)
    rate = summary.rows / summary.seconds if summary.seconds else 0.0
    print(
        f"[predict] wrote {summary.scored} prediction(s) to {args.output} "
        f"({summary.engine}, {summary.seconds:.1f} s, {rate:,.0f} rows/s)"
    )
    if summary.rejects is not None:
        print(f"[predict] {summary.rejected} refused row(s) with their reasons in {args.rejects}")
    return EXIT_OK


def cmd_stage(args: argparse.Namespace) -> int:
    """Say which registered version and commit a stage runs (GTO tags)."""
    from .predict import stage_version

    version = stage_version(args.stage, _root(args))
    print(f"[stage] {args.stage} runs {version.version} ({version.tag}, commit {version.commit})")
    if args.github_output:
        write_github_output(
            {"version": version.version, "tag": version.tag, "commit": version.commit}
        )
    return EXIT_OK


def add_stage_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stage``."""
    parser.add_argument("--stage", required=True, help="staging or prod")
    _add_github_output(parser, "version, tag and commit")


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``predict``."""
    from .predict import CHUNK_ROWS, SCHEDULER_ENV

    parser.add_argument("--input", required=True, metavar="PATH", help="CSV or Parquet file")
    parser.add_argument(
        "--output", required=True, metavar="PATH", help="predictions file: .parquet or .csv"
    )
    parser.add_argument("--id-column", default=None, metavar="NAME", help="copied to the output")
    parser.add_argument(
        "--rejects",
        default=None,
        metavar="PATH",
        help="write refused rows with their reasons here (.csv) and score the others "
        "(default: refuse the file at its first bad row)",
    )
    parser.add_argument(
        "--stage", default=None, help="score with the version GTO assigned to this stage"
    )
    parser.add_argument(
        "--scheduler",
        default=os.environ.get(SCHEDULER_ENV) or None,
        metavar="ADDRESS",
        help=f"Dask scheduler, e.g. tcp://host:8786 (default: ${SCHEDULER_ENV}; none: in-process)",
    )
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=CHUNK_ROWS,
        help="rows scored at a time in-process (default: %(default)s)",
    )


def cmd_tune(args: argparse.Namespace) -> int:
    """Search hyperparameters with Optuna (tune: in params); --apply writes the best to params."""
    import dataclasses

    from . import distribution_name, tracking
    from .layout import TUNE_JSON, TUNE_MD
    from .tune import (
        StudySummary,
        apply_best,
        tune,
        write_study,
        write_summary,
    )

    params = _load(args)
    if args.worker < 0:
        raise ProjectError(f"--worker: must be 0 or more (got {args.worker})")
    if args.trials is not None and args.trials < 1:
        raise ProjectError(f"--trials: must be at least 1 (got {args.trials})")
    artifacts = _artifacts(args)
    result = tune(
        params,
        _root(args),
        artifacts,
        storage=args.storage or None,
        trials=args.trials,
        worker=args.worker,
        progress=_progress("tune"),
    )
    best = ", ".join(f"{k}={v!r}" for k, v in result.best_params.items())
    print(f"[tune] best {result.metric} {result.best_value:.4f} with {best}")
    tracking.log_study(result, distribution_name(), _root(args), _progress("tune"))
    if args.apply:
        apply_best(Path(args.params), result.best_params)
        result = dataclasses.replace(result, applied=True)
        print(f"[tune] wrote the best hyperparameters into model.params of {args.params}")
        study = write_study(StudySummary.of(result), Path(args.params).parent)
        print(f"[tune] wrote {study} (commit it with params.yaml: the PR report shows the study)")
    write_summary(result, artifacts)
    print(f"[tune] wrote {TUNE_JSON} and {TUNE_MD} in {result.seconds} s")
    return EXIT_OK


def add_tune_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tune``."""
    parser.add_argument("--trials", type=int, default=None, help="override tune.trials")
    parser.add_argument(
        "--storage",
        default=os.environ.get("TUNE_STORAGE") or None,
        metavar="URL",
        help="Optuna storage URL shared by workers (default: $TUNE_STORAGE, else tune.storage, "
        "else artifacts/tune.db)",
    )
    parser.add_argument(
        "--worker", type=int, default=0, help="this worker's number: its sampler seed offset"
    )
    parser.add_argument(
        "--apply", action="store_true", help="write the best hyperparameters into params.yaml"
    )


# --- release ----------------------------------------------------------------------------------


def cmd_release(args: argparse.Namespace) -> int:
    """Versions, stages, model card, deployment and publishing (GTO git tags)."""
    repo = _root(args).resolve()
    return _RELEASE[args.release_command](args, repo)


def _release_layout(args: argparse.Namespace) -> ArtifactLayout:
    """The artifacts of ``--artifacts`` as absolute paths (release commands run git in the repo)."""
    return ArtifactLayout(_artifacts(args).resolve())


def _register(args: argparse.Namespace, repo: Path) -> int:
    new = release.register(
        repo,
        _load(args),
        args.version,
        args.bump,
        args.image,
        push=args.push,
        layout=_release_layout(args),
    )
    print(f"registered {new.tag} at {new.commit[:12]} (image: {new.image})")
    if args.github_output:
        write_github_output({"version": new.version, "tag": new.tag})
    return EXIT_OK


def _promote(args: argparse.Namespace, repo: Path) -> int:
    assignment = release.promote(repo, args.version, args.stage, push=args.push)
    print(f"assigned {assignment.version} to {assignment.stage} ({assignment.tag})")
    return EXIT_OK


def _rollback(args: argparse.Namespace, repo: Path) -> int:
    old, assignment = release.rollback(repo, args.stage, push=args.push)
    print(f"rolled {assignment.stage} back from {old} to {assignment.version} ({assignment.tag})")
    return EXIT_OK


def _status(args: argparse.Namespace, repo: Path) -> int:
    print(release.status(repo))
    return EXIT_OK


def _check_ref(args: argparse.Namespace, repo: Path) -> int:
    decision = release.check_ref(repo, args.ref, args.default_branch)
    if args.require_reviewers and decision["event"] == "assignment":
        _require_reviewers(decision["stage"])
    print(json.dumps(decision, sort_keys=True))
    if args.github_output:
        write_github_output(decision)
    return EXIT_OK


def _require_reviewers(stage: str) -> None:
    """Refuse a deployment to a stage whose GitHub environment has no required reviewers.

    Best effort: the environment is read through the API (GITHUB_REPOSITORY, GH_TOKEN with
    ``actions: read``); when it cannot be read, a warning says so and the job's own
    ``environment:`` protection is what remains.
    """
    from .deploy import read_environment

    repository = os.environ.get("GITHUB_REPOSITORY", "")
    read, environment = read_environment(repository, stage) if repository else (False, None)
    if not read:
        print(
            f"warning: could not read the {stage} environment's protection rules through the "
            "GitHub API: make sure it has required reviewers",
            file=sys.stderr,
        )
        return
    problem = release.missing_reviewers(stage, environment)
    if problem:
        raise ReleaseError(f"{problem}; a tag alone must not deploy to {stage}")


def _model_card(args: argparse.Namespace, repo: Path) -> int:
    from .model_card import write_model_card

    output = _inside(args, args.output, "--output") if args.output else None
    layout = _release_layout(args)
    print(write_model_card(repo, output or layout.model_card, args.version, layout))
    return EXIT_OK


def _deploy(args: argparse.Namespace, repo: Path) -> int:
    from .deploy import deploy

    branch = args.default_branch
    version, _ = deploy(repo, args.stage, args.version, dry_run=args.dry_run, branch=branch)
    print(f"deployed {version} to {args.stage}" + (" (dry run)" if args.dry_run else ""))
    return EXIT_OK


def _publish_image(args: argparse.Namespace, repo: Path) -> int:
    from .deploy import publish_image

    layout = _release_layout(args)
    print(publish_image(repo, args.image, args.tag, args.bento, args.dry_run, layout))
    return EXIT_OK


def _publish(args: argparse.Namespace, repo: Path) -> int:
    from .deploy import publish_release

    version = args.version or getattr(release.read_state(repo).latest(), "version", None)
    if version is None:
        raise ReleaseError("no registered version to publish")
    for asset in args.assets:
        _inside(args, asset, "release asset")
    layout = _release_layout(args)
    publish_release(repo, version, args.assets, args.dry_run, args.bento, layout)
    return EXIT_OK


_RELEASE = {
    "register": _register,
    "promote": _promote,
    "rollback": _rollback,
    "status": _status,
    "check-ref": _check_ref,
    "model-card": _model_card,
    "deploy": _deploy,
    "publish-image": _publish_image,
    "publish": _publish,
}


def add_release_arguments(parser: argparse.ArgumentParser) -> None:
    """The release subcommands; the repository is the folder of ``--params``."""
    sub = parser.add_subparsers(dest="release_command", required=True, metavar="SUBCOMMAND")
    stage_help = "a stage listed in .gto (staging, prod)"
    branch_help = "released versions must be commits of this branch (default: origin's HEAD, main)"

    p = sub.add_parser("register", help="register HEAD as the next version (NAME@vX.Y.Z)")
    p.add_argument("--version", help="explicit version vX.Y.Z (default: bump the latest)")
    p.add_argument(
        "--bump", choices=release.BUMPS, default="patch", help="part to bump (default: patch)"
    )
    p.add_argument("--image", help="image by digest (default: artifacts/image.json if present)")
    p.add_argument("--push", action="store_true", help="push the tag to origin")
    _add_github_output(p, "version=... and tag=...")

    p = sub.add_parser("promote", help="assign a registered version to a stage (NAME#STAGE#N)")
    p.add_argument("--version", required=True, help="registered version, e.g. v0.1.0")
    p.add_argument("--stage", required=True, help=stage_help)
    p.add_argument("--push", action="store_true", help="push the tag to origin")

    p = sub.add_parser("rollback", help="assign to STAGE the version it ran before")
    p.add_argument("--stage", required=True, help=stage_help)
    p.add_argument("--push", action="store_true", help="push the tag to origin")

    sub.add_parser("status", help="what runs where: stage, version, tag, image")

    p = sub.add_parser("check-ref", help="what a pushed tag means (for the release workflow)")
    p.add_argument("ref", help="tag name or refs/tags/...")
    p.add_argument("--default-branch", default=None, metavar="BRANCH", help=branch_help)
    p.add_argument(
        "--require-reviewers",
        action="store_true",
        help=f"refuse assignments to {', '.join(release.REVIEWED_STAGES)} when its GitHub "
        "environment has no required reviewers (read through the API)",
    )
    _add_github_output(p, "the decision")

    p = sub.add_parser("model-card", help="render the model card (markdown)")
    p.add_argument("--version", help="registered version (adds its image)")
    p.add_argument("--output", type=Path, default=None, help="default: artifacts/model-card.md")

    p = sub.add_parser("deploy", help="deploy the version assigned to STAGE (no rebuild)")
    p.add_argument("--stage", required=True, help=stage_help)
    p.add_argument("--version", help="the version the triggering tag assigned (checked)")
    p.add_argument("--default-branch", default=None, metavar="BRANCH", help=branch_help)
    p.add_argument("--dry-run", action="store_true", help="render and print, run nothing")

    p = sub.add_parser("publish-image", help="containerize the bento and push it by digest")
    p.add_argument("--image", required=True, help="registry repository, e.g. ghcr.io/OWNER/NAME")
    p.add_argument("--tag", required=True, help="image tag, e.g. the commit sha")
    p.add_argument("--bento", required=True, help="bento tag to containerize")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")

    p = sub.add_parser("publish", help="create the GitHub Release of a version (gh)")
    p.add_argument("--version", help="registered version (default: the latest)")
    p.add_argument("--bento", help="bento tag to export and attach (e.g. NAME:latest)")
    p.add_argument("assets", nargs="*", type=Path, help="files to attach")
    p.add_argument("--dry-run", action="store_true", help="print the command, run nothing")


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, the function that runs it, and optional extra arguments."""

    name: str
    run: Callable[[argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


#: Subcommands in the order ``--help`` lists them. Add a command by appending one entry.
COMMANDS: list[Command] = [
    Command("data", cmd_data, add_data_arguments),
    Command("sample", cmd_sample),
    Command("track", cmd_track, add_track_arguments),
    Command("push", cmd_push, add_path_arguments),
    Command("remote", cmd_remote, add_remote_arguments),
    Command("train", cmd_train),
    Command("lineage", cmd_lineage),
    Command("adopt", cmd_adopt, add_adopt_arguments),
    Command("check", cmd_check),
    Command("report", cmd_report, add_report_arguments),
    Command("base-run", cmd_base_run, add_base_run_arguments),
    Command("runs", cmd_runs, add_runs_arguments),
    Command("bento", cmd_bento, add_bento_arguments),
    Command("monitor", cmd_monitor, add_monitor_arguments),
    Command("batches", cmd_batches, add_batches_arguments),
    Command("update-data", cmd_update_data, add_update_data_arguments),
    Command("retrain", cmd_retrain, add_update_data_arguments),
    Command("predict", cmd_predict, add_predict_arguments),
    Command("stage", cmd_stage, add_stage_arguments),
    Command("tune", cmd_tune, add_tune_arguments),
    Command("release", cmd_release, add_release_arguments),
    Command("pr-comment", cmd_pr_comment, add_pr_comment_arguments),
]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``error: ...`` line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {' '.join(message.split())} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one subparser per entry of :data:`COMMANDS`."""
    parser = _Parser(
        prog=f"python -m {__package__}",
        description="Train, check, report and serve the model configured in params.yaml.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = _Parser(add_help=False)
    common.add_argument(
        "--params",
        default="params.yaml",
        metavar="PATH",
        help="parameters file (default: %(default)s); data paths in it are relative to its folder",
    )
    common.add_argument(
        "--artifacts",
        default=None,
        metavar="DIR",
        help="artifacts directory (default: artifacts/ next to the parameters file)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        doc = (command.run.__doc__ or "").strip().splitlines()[0]
        sub = subparsers.add_parser(command.name, help=doc, description=doc, parents=[common])
        if command.add_arguments:
            command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (see the module docstring: 0, 1, 2 or 3)."""
    args = build_parser().parse_args(argv)
    try:
        with disk_full_is_an_error(_root(args)):  # a write no stage named: name the project
            status: int = args.run(args)  # each command's function returns its exit status
            return status
    except ProjectError as exc:
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        return EXIT_ERROR
