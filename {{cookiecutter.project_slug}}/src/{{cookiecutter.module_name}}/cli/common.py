"""What every command shares: exit statuses, the project's paths, step outputs, signals."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..artifacts import ensure_inside
from ..errors import Interrupted, ProjectError
from ..layout import ArtifactLayout
from ..processes import STOPPING_SIGNALS
from ..progress import Progress

if TYPE_CHECKING:
    from ..config import Params  # imported lazily at run time (pydantic models)


EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_ERROR = 2
EXIT_DRIFT = 3  # monitor.EXIT_DRIFT: the exit code its summary records


def printer(stage: str) -> Progress:
    """Progress messages printed as ``[stage] message``."""

    def emit(message: str) -> None:
        print(f"[{stage}] {message}", flush=True)

    return emit


def params_of(args: argparse.Namespace) -> Params:
    """The validated params of ``--params``."""
    from ..config import load_params

    return load_params(args.params)


def root_of(args: argparse.Namespace) -> Path:
    """The project directory: the directory of the params file (paths in it are relative)."""
    return Path(args.params).parent


def layout_of(args: argparse.Namespace) -> ArtifactLayout:
    """The artifacts of ``--artifacts`` (inside the project), else of the project's folder."""
    chosen = inside(args, args.artifacts, "--artifacts") if args.artifacts else None
    return ArtifactLayout.of(root_of(args), chosen)


def artifacts_of(args: argparse.Namespace) -> Path:
    """The artifacts directory (see :func:`layout_of`)."""
    return layout_of(args).dir


def inside(args: argparse.Namespace, path: str | Path, what: str) -> Path:
    """``path`` (relative to the project) if it resolves inside the project; refuse it otherwise."""
    root = root_of(args)
    ensure_inside(root / path, [root], f"{what} {str(path)!r}", "commands stay inside it")
    return root / path


def data_file(args: argparse.Namespace, params: Params, path: str, what: str) -> Path:
    """``path`` (relative to the project) if it resolves inside the project or external_dir."""
    from ..config import data_folders

    root = root_of(args)
    ensure_inside(root / path, data_folders(params, root), f"{what} {path!r}")
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


def add_github_output(parser: argparse.ArgumentParser, what: str = "step outputs") -> None:
    """Add ``--github-output``: the command writes ``what`` to $GITHUB_OUTPUT."""
    parser.add_argument(
        "--github-output", action="store_true", help=f"write {what} to $GITHUB_OUTPUT"
    )


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


def add_path_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``track`` and ``push``."""
    parser.add_argument(
        "--path", default=None, metavar="FILE", help="data file (default: data.path in params)"
    )
