"""Commands of monitoring: drift checks, example batches, taking in new data, retraining."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .common import (
    EXIT_DRIFT,
    EXIT_GATE_FAILED,
    EXIT_OK,
    add_github_output,
    artifacts_of,
    inside,
    params_of,
    root_of,
    write_github_output,
)
from .pipeline import check_and_log, train_and_log

if TYPE_CHECKING:
    from ..monitoring.data_update import DataUpdate


def cmd_monitor(args: argparse.Namespace) -> int:
    """Check a batch of new data for drift against the training data and the model."""
    from ..layout import MONITOR_HTML, MONITOR_JSON, MONITOR_MD
    from ..monitoring.monitor import monitor, render_markdown, summary_table

    summary = monitor(params_of(args), root_of(args), artifacts_of(args), args.current)
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
    from ..artifacts import display_path
    from ..monitoring.example_batches import write_batches

    root = root_of(args)
    result = write_batches(params_of(args), root, inside(args, args.out, "--out"), args.rows)
    for name, path in result["paths"].items():
        print(f"[batches] wrote {display_path(path, root)} ({result['rows']} rows, {name})")
    print(f"[batches] drifted.csv shifts: {', '.join(result['shifted'])}")
    return EXIT_OK


def cmd_update_data(args: argparse.Namespace) -> int:
    """Append a labelled batch to the training data, or replace it (monitor.retrain)."""
    from ..monitoring.data_update import finish_update

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
    from ..monitoring.data_update import finish_update

    update = _update_data(args)
    try:
        train_and_log(args)
        passed = check_and_log(args)
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
    from ..monitoring.data_update import restore_training_data

    if not (update.root / update.backup).is_file():  # an earlier retrain kept the batch
        print(f"[retrain] {why}; {update.source} was kept by an earlier retrain: data unchanged")
        return
    restore_training_data(update)
    print(f"[retrain] {why}: restored {update.path}; the batch was not folded in")


def _update_data(args: argparse.Namespace) -> DataUpdate:
    from ..monitoring.data_update import update_training_data

    update = update_training_data(params_of(args), root_of(args), args.current, args.mode)
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
    from ..monitoring.data_update import version_update

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
    add_github_output(parser)


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
