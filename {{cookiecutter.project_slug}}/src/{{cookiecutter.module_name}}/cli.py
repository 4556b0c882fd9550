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
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import __version__, release  # release.py is light: gto is imported by its functions
from .errors import ProjectError

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_ERROR = 2
EXIT_DRIFT = 3  # monitor.EXIT_DRIFT: the exit code its summary records


def _progress(stage: str) -> Callable[[str], None]:
    def emit(message: str) -> None:
        print(f"[{stage}] {message}", flush=True)

    return emit


def _load(args: argparse.Namespace):  # noqa: ANN202 - returns config.Params, imported lazily
    from .config import load_params

    return load_params(args.params)


def _root(args: argparse.Namespace) -> Path:
    """The project directory: the directory of the params file (paths in it are relative)."""
    return Path(args.params).parent


def _artifacts(args: argparse.Namespace) -> Path:
    """The artifacts directory: ``--artifacts``, else ``artifacts/`` in the project directory."""
    return Path(args.artifacts) if args.artifacts else _root(args) / "artifacts"


def write_github_output(values: dict[str, str]) -> None:
    """Append ``name=value`` lines to the file named by $GITHUB_OUTPUT (a step's outputs)."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        raise ProjectError("--github-output needs the GITHUB_OUTPUT environment variable")
    with Path(target).open("a", encoding="utf-8") as handle:
        for name, value in values.items():
            handle.write(f"{name}={value}\n")


def _add_github_output(parser: argparse.ArgumentParser, what: str = "step outputs") -> None:
    parser.add_argument(
        "--github-output", action="store_true", help=f"write {what} to $GITHUB_OUTPUT"
    )


def cmd_data(args: argparse.Namespace) -> int:
    """Write the bundled sample dataset to the configured path (never overwrites)."""
    from .data import write_sample

    params = _load(args)
    path, written = write_sample(params, _root(args))
    if written:
        print(f"[data] wrote the {params.task} sample dataset to {path}")
    else:
        print(f"[data] {path} exists; left untouched")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Validate the data, train, evaluate and write artifacts (model, metrics, plots, lineage)."""
    from .train import run_training

    params = _load(args)
    result = run_training(params, _root(args), _artifacts(args), progress=_progress("train"))
    test = ", ".join(f"{name} {value:.4f}" for name, value in result.metrics["test"].items())
    print(f"[train] test metrics: {test}")
    print(f"[train] done in {result.seconds:.1f} s")
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    """Print the lineage record of the last training run (JSON)."""
    from .lineage import read_lineage

    sys.stdout.write(read_lineage(_artifacts(args)))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Run the deepchecks suites and the quality gates; exit 1 if a gate fails."""
    from .checks import CHECKS_HTML, CHECKS_JSON, run_project_checks

    artifacts = _artifacts(args)
    result = run_project_checks(_load(args), _root(args), artifacts, progress=_progress("check"))
    print(result.table())
    print(f"[check] wrote {artifacts / CHECKS_JSON} and {artifacts / CHECKS_HTML}")
    return EXIT_OK if result.passed else EXIT_GATE_FAILED


# --- report -----------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    """Build the pull-request report (artifacts/report/report.md), optionally against a base."""
    from .report import run_report

    path = run_report(
        _root(args),
        _artifacts(args),
        out=Path(args.out) if args.out else None,
        base_ref=args.base,
        base_artifacts=Path(args.base_artifacts) if args.base_artifacts else None,
        images=args.images,
        uv=args.uv,
        progress=_progress("report"),
        params=_load(args),
    )
    print(f"[report] wrote {path}")
    return EXIT_OK


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``report``."""
    from .report import IMAGE_MODES  # report.py imports nothing heavy at module level

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
        "--images",
        choices=IMAGE_MODES,
        default="artifact",
        help="artifact: list plots (attached to the run); publish: embed them for CML to upload",
    )
    parser.add_argument(
        "--uv", default=None, metavar="PATH", help="uv executable for the base's `make install`"
    )


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
    from .monitor import (
        HTML_FILE,
        MARKDOWN_FILE,
        SUMMARY_FILE,
        monitor,
        render_markdown,
        summary_table,
    )

    summary = monitor(_load(args), _root(args), _artifacts(args), args.current)
    print(summary_table(summary))
    print(f"[monitor] wrote {SUMMARY_FILE}, {MARKDOWN_FILE}, {HTML_FILE} in {summary['seconds']} s")
    if args.github_output:
        write_github_output(
            {
                "verdict": summary["verdict"],
                "retrain": str(summary["retrain"]).lower(),
                "drifted_features": ",".join(summary["drifted_features"]),
            }
        )
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            with Path(step_summary).open("a", encoding="utf-8") as handle:
                handle.write(render_markdown(summary))
    if summary["verdict"] != "stable" and args.exit_zero:
        print(f"[monitor] verdict {summary['verdict']}: exit 0 (--exit-zero)")
        return EXIT_OK
    return summary["exit_code"]


def cmd_batches(args: argparse.Namespace) -> int:
    """Write example batches of new data: stable.csv and drifted.csv (deterministic)."""
    from .artifacts import display_path
    from .monitor import write_batches

    root = _root(args)
    result = write_batches(_load(args), root, root / args.out, args.rows)
    for name, path in result["paths"].items():
        print(f"[batches] wrote {display_path(path, root)} ({result['rows']} rows, {name})")
    print(f"[batches] drifted.csv shifts: {', '.join(result['shifted'])}")
    return EXIT_OK


def cmd_update_data(args: argparse.Namespace) -> int:
    """Append a labelled batch to the training data, or replace it (monitor.retrain)."""
    from .monitor import git_add, update_training_data

    root = _root(args)
    result = update_training_data(_load(args), root, args.current, args.mode)
    print(
        f"[retrain] {result['mode']}: {result['path']} {result['before']['rows']} -> "
        f"{result['after']['rows']} rows (+{result['added_rows']} from {result['source']}), "
        f"sha256 {result['after']['sha256'][:12]}"
    )
    if result["filled_columns"]:
        print(f"[retrain] left empty (not in the batch): {', '.join(result['filled_columns'])}")
    if args.git_add:
        git_add(root / result["path"], root)
        print(f"[retrain] staged {result['path']} for the retrain pull request (git add --force)")
    if args.github_output:
        write_github_output({"data_path": result["path"], "rows": str(result["after"]["rows"])})
    return EXIT_OK


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
        "--git-add", action="store_true", help="stage the training data file with git add --force"
    )


# --- release ----------------------------------------------------------------------------------


def cmd_release(args: argparse.Namespace) -> int:
    """Versions, stages, model card, deployment and publishing (GTO git tags)."""
    repo = _root(args).resolve()
    return _RELEASE[args.release_command](args, repo)


def _register(args: argparse.Namespace, repo: Path) -> int:
    from .lineage import ensure_current

    if Path(args.params).is_file():  # the artifacts must come from the current params and data
        ensure_current(_load(args), repo, repo / release.ARTIFACTS)
    new = release.register(repo, args.version, args.bump, args.image, push=args.push)
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
    decision = release.check_ref(repo, args.ref)
    print(json.dumps(decision, sort_keys=True))
    if args.github_output:
        write_github_output(decision)
    return EXIT_OK


def _model_card(args: argparse.Namespace, repo: Path) -> int:
    from .model_card import write_model_card

    output = args.output or release.ARTIFACTS / "model-card.md"
    print(write_model_card(repo, output, args.version))
    return EXIT_OK


def _deploy(args: argparse.Namespace, repo: Path) -> int:
    from .deploy import deploy

    version, _ = deploy(repo, args.stage, args.version, dry_run=args.dry_run)
    print(f"deployed {version} to {args.stage}" + (" (dry run)" if args.dry_run else ""))
    return EXIT_OK


def _publish_image(args: argparse.Namespace, repo: Path) -> int:
    from .deploy import publish_image

    print(publish_image(repo, args.image, args.tag, args.bento, dry_run=args.dry_run))
    return EXIT_OK


def _publish(args: argparse.Namespace, repo: Path) -> int:
    from .deploy import publish_release

    version = args.version or getattr(release.read_state(repo).latest(), "version", None)
    if version is None:
        raise release.ReleaseError("no registered version to publish")
    publish_release(repo, version, args.assets, dry_run=args.dry_run)
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
    stage_help = f"one of {', '.join(release.STAGES)}"

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
    _add_github_output(p, "the decision")

    p = sub.add_parser("model-card", help="render the model card (markdown)")
    p.add_argument("--version", help="registered version (adds its image)")
    p.add_argument("--output", type=Path, default=None, help="default: artifacts/model-card.md")

    p = sub.add_parser("deploy", help="deploy the version assigned to STAGE (no rebuild)")
    p.add_argument("--stage", required=True, help=stage_help)
    p.add_argument("--version", help="the version the triggering tag assigned (checked)")
    p.add_argument("--dry-run", action="store_true", help="render and print, run nothing")

    p = sub.add_parser("publish-image", help="containerize the bento and push it by digest")
    p.add_argument("--image", required=True, help="registry repository, e.g. ghcr.io/OWNER/NAME")
    p.add_argument("--tag", required=True, help="image tag, e.g. the commit sha")
    p.add_argument("--bento", required=True, help="bento tag to containerize")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")

    p = sub.add_parser("publish", help="create the GitHub Release of a version (gh)")
    p.add_argument("--version", help="registered version (default: the latest)")
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
    Command("data", cmd_data),
    Command("train", cmd_train),
    Command("lineage", cmd_lineage),
    Command("check", cmd_check),
    Command("report", cmd_report, add_report_arguments),
    Command("bento", cmd_bento, add_bento_arguments),
    Command("monitor", cmd_monitor, add_monitor_arguments),
    Command("batches", cmd_batches, add_batches_arguments),
    Command("update-data", cmd_update_data, add_update_data_arguments),
    Command("release", cmd_release, add_release_arguments),
]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one subparser per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}",
        description="Train, check, report and serve the model configured in params.yaml.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
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
        return args.run(args)
    except ProjectError as exc:
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        return EXIT_ERROR
