"""Commands of the pull-request report: the report, the base branch's run, the comment."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..release import guards
from .common import (
    EXIT_OK,
    add_github_output,
    artifacts_of,
    inside,
    interrupted_by_signals,
    params_of,
    printer,
    root_of,
    write_github_output,
)

if TYPE_CHECKING:
    pass


def cmd_report(args: argparse.Namespace) -> int:
    """Build the pull-request report (artifacts/report/report.md), optionally against a base."""
    from ..reporting.report import run_report

    base = args.base_artifacts
    with interrupted_by_signals():  # SIGTERM too runs the cleanup of the base's worktree
        path = run_report(
            root_of(args),
            artifacts_of(args),
            out=inside(args, args.out, "--out") if args.out else None,
            base_ref=guards.ensure_ref_name(args.base, "--base") if args.base else None,
            base_artifacts=inside(args, base, "--base-artifacts") if base else None,
            base_run=inside(args, args.base_run, "--base-run") if args.base_run else None,
            uv=args.uv,
            progress=printer("report"),
            params=params_of(args),
        )
    print(f"[report] wrote {path}")
    return EXIT_OK


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
    from ..reporting.base_run import save_base_run

    out = inside(args, args.out, "--out")
    dest = save_base_run(root_of(args), artifacts_of(args), out, params_of(args))
    print(f"[base-run] saved the run's metrics, lineage and gates in {dest}")
    return EXIT_OK


def add_base_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``base-run``."""
    parser.add_argument("--out", required=True, metavar="DIR", help="where to save the run")


def cmd_pr_comment(args: argparse.Namespace) -> int:
    """Check the pr-report artifact and write the comment to post (the comment workflow)."""
    from ..reporting.pr_comment import prepare_comment

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
    from ..reporting.pr_comment import IMAGE_MODES

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
    add_github_output(parser, "number=... and publish=...")
