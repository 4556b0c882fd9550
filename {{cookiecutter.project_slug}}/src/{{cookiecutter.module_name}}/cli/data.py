"""Commands of the data: get it, the sample, DVC tracking and remote, adopting a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ProjectError
from .common import (
    EXIT_OK,
    add_github_output,
    add_path_arguments,
    artifacts_of,
    inside,
    params_of,
    printer,
    root_of,
    write_github_output,
)

if TYPE_CHECKING:
    pass


def cmd_data(args: argparse.Namespace) -> int:
    """Get the data params.yaml names: pull its DVC version, or write the sample to its own file."""
    from ..data import get_data
    from ..errors import DataError

    params = params_of(args)
    try:
        fetched = get_data(params, root_of(args))
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
    from ..data.datastore import write_fork_notice

    path = write_fork_notice(artifacts_of(args), why)
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
    add_github_output(parser, "available=true|false")


def cmd_sample(args: argparse.Namespace) -> int:
    """Write the bundled sample dataset to its own file (data/<sample>.csv; never overwrites)."""
    from ..artifacts import display_path
    from ..data import write_sample

    params = params_of(args)
    path, written = write_sample(params.task, root_of(args))
    shown = display_path(path, root_of(args))
    print(f"[sample] {'wrote' if written else 'left untouched'} {shown} ({params.task} sample)")
    return EXIT_OK


def _data_path(args: argparse.Namespace) -> str:
    """``--path`` (checked to stay inside the project), else data.path of the params."""
    if args.path is None:
        return params_of(args).data.path
    inside(args, args.path, "--path")
    return str(args.path)


def cmd_track(args: argparse.Namespace) -> int:
    """Version the data file with DVC (pointer <file>.dvc for git) and push it to the remote."""
    from ..data.datastore import push, track

    root, path = root_of(args), _data_path(args)
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
    from ..data.adopt import GATE_MARGIN, GATE_SLACK, adopt

    if not args.data or not args.target:
        raise ProjectError("adopt needs a data file and its target: make adopt DATA=x.csv TARGET=y")
    inside(args, args.data, "DATA")
    result = adopt(
        root_of(args), args.data, args.target, args.task, Path(args.params), printer("adopt")
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
    from ..data.datastore import push

    path = _data_path(args)
    version = push(root_of(args), path)
    print(f"[push] {path}: version {version.md5[:12]} is in the DVC remote")
    return EXIT_OK


def add_track_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``track``."""
    add_path_arguments(parser)
    parser.add_argument("--no-push", action="store_true", help="track only; push later")


def cmd_remote(args: argparse.Namespace) -> int:
    """Set the project's DVC remote (.dvc/config): S3, GCS, Azure, SSH or a local folder."""
    from ..data.datastore import remote, set_remote

    root = root_of(args)
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
