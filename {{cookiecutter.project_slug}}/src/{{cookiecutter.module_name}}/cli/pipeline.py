"""Commands of the training pipeline: train, lineage, check (the gates), runs, tune."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .. import git
from ..errors import ProjectError, TrackingError
from ..layout import ArtifactLayout
from ..progress import Progress
from ..release import guards
from .common import EXIT_GATE_FAILED, EXIT_OK, artifacts_of, layout_of, params_of, printer, root_of

if TYPE_CHECKING:
    from ..pipeline.train import TrainResult


def cmd_train(args: argparse.Namespace) -> int:
    """Validate the data, train, evaluate and write artifacts (model, metrics, plots, lineage)."""
    train_and_log(args)
    return 0


def train_and_log(args: argparse.Namespace) -> None:
    """Train, print the test metrics, and log the run to the tracking server if one is set."""
    from ..pipeline.train import run_training

    params = params_of(args)
    progress = printer("train")
    result = run_training(params, root_of(args), artifacts_of(args), progress=progress)
    test = ", ".join(f"{name} {value:.4f}" for name, value in result.metrics.test.items())
    print(f"[train] test metrics: {test}")
    print(f"[train] done in {result.seconds:.1f} s")
    _track(args, result, progress)


def _track(args: argparse.Namespace, result: TrainResult, progress: Progress) -> None:
    """Log the finished run to the experiment tracker (one warning line if that fails)."""
    from ..pipeline import tracking

    layout = ArtifactLayout(result.artifacts_dir)
    files = (layout.plots, layout.metrics, layout.diagnostics, layout.lineage)
    run = tracking.TrainingRun(
        result.lineage,
        result.metrics,
        result.artifacts_dir,
        files,
        result.model,
        result.example,
        command=args.command,
    )
    tracked = tracking.log_training(run, root_of(args), progress)
    if tracked is not None:
        where = tracked.url or f"{tracked.store} (`make ui` to browse)"
        progress(f"logged run {tracked.run_id} of experiment {tracked.experiment!r} to {where}")


def cmd_lineage(args: argparse.Namespace) -> int:
    """Print the lineage record of the last training run (JSON)."""
    from ..pipeline.lineage import read_lineage

    sys.stdout.write(read_lineage(artifacts_of(args)))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Run the deepchecks suites and the quality gates; exit 1 if a gate fails."""
    return EXIT_OK if check_and_log(args) else EXIT_GATE_FAILED


def check_and_log(args: argparse.Namespace) -> bool:
    """Run the gates, print their table, log the verdict; whether every gate passed."""
    from ..quality.checks import run_project_checks

    layout = layout_of(args)
    result = run_project_checks(
        params_of(args), root_of(args), layout.dir, progress=printer("check")
    )
    print(result.table())
    print(f"[check] wrote {layout.checks} and {layout.checks_html}")
    _track_checks(args, layout.dir, result.passed, (layout.checks,))
    return result.passed


def _track_checks(
    args: argparse.Namespace, artifacts: Path, passed: bool, files: tuple[Path, ...]
) -> None:
    """Add the gate summary to this model's tracked run, if it was tracked."""
    from ..pipeline import tracking
    from ..records import Lineage

    lineage = Lineage.read(ArtifactLayout(artifacts).lineage, "run `make train` first")
    model_sha = lineage.model.sha256 or None
    progress = printer("check")
    if tracking.log_checks(artifacts, model_sha, files, passed, root_of(args), progress):
        progress("logged the gate results to the tracked run")


def cmd_runs(args: argparse.Namespace) -> int:
    """List the last tracked runs of a branch with the trend of the main metric."""
    from .. import distribution_name
    from ..pipeline import run_history, tracking

    branch = args.branch or git.branch(root_of(args)) or "main"
    guards.ensure_ref_name(branch, "--branch")
    params = params_of(args)
    experiment = tracking.experiment_name(distribution_name())
    try:
        rows = run_history.history(root_of(args), branch, params.task, experiment, args.limit)
    except TrackingError as exc:
        raise ProjectError(str(exc)) from None
    print(run_history.history_text(rows, branch, params.task))
    return EXIT_OK


def add_runs_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``runs``."""
    parser.add_argument(
        "--branch", default=None, help="branch whose runs to list (default: current)"
    )
    parser.add_argument(
        "--limit", type=int, default=10, help="how many runs (default: %(default)s)"
    )


def cmd_tune(args: argparse.Namespace) -> int:
    """Search hyperparameters with Optuna (tune: in params); --apply writes the best to params."""
    from .. import distribution_name
    from ..layout import TUNE_JSON, TUNE_MD
    from ..pipeline import tracking
    from ..pipeline.tune import apply_best, tune, write_study, write_summary
    from ..records import StudySummary

    params = params_of(args)
    if args.worker < 0:
        raise ProjectError(f"--worker: must be 0 or more (got {args.worker})")
    if args.trials is not None and args.trials < 1:
        raise ProjectError(f"--trials: must be at least 1 (got {args.trials})")
    artifacts = artifacts_of(args)
    result = tune(
        params,
        root_of(args),
        artifacts,
        storage=args.storage or None,
        trials=args.trials,
        worker=args.worker,
        progress=printer("tune"),
    )
    best = ", ".join(f"{k}={v!r}" for k, v in result.best_params.items())
    print(f"[tune] best {result.metric} {result.best_value:.4f} with {best}")
    tracking.log_study(result, distribution_name(), root_of(args), printer("tune"))
    if args.apply:
        apply_best(Path(args.params), result.best_params)
        result = result.model_copy(update={"applied": True})
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
