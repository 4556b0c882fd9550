"""Command-line interface: ``python -m <package> <command>``, the project's only one.

Each command is one small function that resolves paths, calls the library and prints what it
did; :data:`COMMANDS` lists them. The commands live by stage: :mod:`.data`, :mod:`.pipeline`,
:mod:`.reporting`, :mod:`.serving`, :mod:`.monitoring`, :mod:`.release`; what they share (exit
statuses, project paths, step outputs) in :mod:`.common`. Heavy libraries (pandas,
scikit-learn, matplotlib, deepchecks, bentoml, gto) are imported inside the command functions so
that ``--help`` starts fast.

Exit status:

- 0: done (``monitor``: the batch is stable).
- 1: a quality gate failed (``check``).
- 2: an error the user can fix (:class:`~..errors.ProjectError`, e.g. bad params or data, a
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
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from .. import __version__
from ..artifacts import disk_full_is_an_error
from ..errors import ProjectError
from .common import EXIT_ERROR, add_path_arguments, root_of, write_github_output
from .data import (
    add_adopt_arguments,
    add_data_arguments,
    add_remote_arguments,
    add_track_arguments,
    cmd_adopt,
    cmd_data,
    cmd_push,
    cmd_remote,
    cmd_sample,
    cmd_track,
)
from .monitoring import (
    add_batches_arguments,
    add_monitor_arguments,
    add_update_data_arguments,
    cmd_batches,
    cmd_monitor,
    cmd_retrain,
    cmd_update_data,
)
from .pipeline import (
    add_runs_arguments,
    add_tune_arguments,
    cmd_check,
    cmd_lineage,
    cmd_runs,
    cmd_train,
    cmd_tune,
)
from .release import add_release_arguments, cmd_release
from .reporting import (
    add_base_run_arguments,
    add_pr_comment_arguments,
    add_report_arguments,
    cmd_base_run,
    cmd_pr_comment,
    cmd_report,
)
from .serving import (
    add_bento_arguments,
    add_predict_arguments,
    add_stage_arguments,
    cmd_bento,
    cmd_predict,
    cmd_stage,
)

__all__ = ["COMMANDS", "EXIT_ERROR", "Command", "build_parser", "main", "write_github_output"]


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
        prog=f"python -m {__name__.rpartition('.')[0]}",
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
        with disk_full_is_an_error(root_of(args)):  # a write no stage named: name the project
            status: int = args.run(args)  # each command's function returns its exit status
            return status
    except ProjectError as exc:
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        return EXIT_ERROR
