"""The release command: register, promote, roll back, deploy and publish (GTO tags)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ReleaseError
from ..layout import ArtifactLayout

# The release package is light: gto is imported inside its functions.
from ..release import guards, registry
from ..release import tags as release
from .common import (
    EXIT_OK,
    add_github_output,
    artifacts_of,
    inside,
    params_of,
    root_of,
    write_github_output,
)

if TYPE_CHECKING:
    pass


def cmd_release(args: argparse.Namespace) -> int:
    """Versions, stages, model card, deployment and publishing (GTO git tags)."""
    repo = root_of(args).resolve()
    return _RELEASE[args.release_command](args, repo)


def _release_layout(args: argparse.Namespace) -> ArtifactLayout:
    """The artifacts of ``--artifacts`` as absolute paths (release commands run git in the repo)."""
    return ArtifactLayout(artifacts_of(args).resolve())


def _register(args: argparse.Namespace, repo: Path) -> int:
    new = release.register(
        repo,
        params_of(args),
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
    from ..release.deploy import read_environment

    repository = os.environ.get("GITHUB_REPOSITORY", "")
    read, environment = read_environment(repository, stage) if repository else (False, None)
    if not read:
        print(
            f"warning: could not read the {stage} environment's protection rules through the "
            "GitHub API: make sure it has required reviewers",
            file=sys.stderr,
        )
        return
    problem = guards.missing_reviewers(stage, environment)
    if problem:
        raise ReleaseError(f"{problem}; a tag alone must not deploy to {stage}")


def _model_card(args: argparse.Namespace, repo: Path) -> int:
    from ..reporting.model_card import write_model_card

    output = inside(args, args.output, "--output") if args.output else None
    layout = _release_layout(args)
    print(write_model_card(repo, output or layout.model_card, args.version, layout))
    return EXIT_OK


def _deploy(args: argparse.Namespace, repo: Path) -> int:
    from ..release.deploy import deploy

    branch = args.default_branch
    version, _ = deploy(repo, args.stage, args.version, dry_run=args.dry_run, branch=branch)
    print(f"deployed {version} to {args.stage}" + (" (dry run)" if args.dry_run else ""))
    return EXIT_OK


def _publish_image(args: argparse.Namespace, repo: Path) -> int:
    from ..release.deploy import publish_image

    layout = _release_layout(args)
    print(publish_image(repo, args.image, args.tag, args.bento, args.dry_run, layout))
    return EXIT_OK


def _publish(args: argparse.Namespace, repo: Path) -> int:
    from ..release.deploy import publish_release

    version = args.version or getattr(registry.read_state(repo).latest(), "version", None)
    if version is None:
        raise ReleaseError("no registered version to publish")
    for asset in args.assets:
        inside(args, asset, "release asset")
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
        "--bump", choices=registry.BUMPS, default="patch", help="part to bump (default: patch)"
    )
    p.add_argument("--image", help="image by digest (default: artifacts/image.json if present)")
    p.add_argument("--push", action="store_true", help="push the tag to origin")
    add_github_output(p, "version=... and tag=...")

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
        help=f"refuse assignments to {', '.join(guards.REVIEWED_STAGES)} when its GitHub "
        "environment has no required reviewers (read through the API)",
    )
    add_github_output(p, "the decision")

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
