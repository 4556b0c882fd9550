"""Commands of serving and batch scoring: the bento, batch predictions, a stage's version."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from .common import (
    EXIT_OK,
    add_github_output,
    artifacts_of,
    data_file,
    params_of,
    printer,
    root_of,
    write_github_output,
)

if TYPE_CHECKING:
    pass


def cmd_bento(args: argparse.Namespace) -> int:
    """Save the trained model to the BentoML store and build the bento."""
    from ..pipeline.lineage import ensure_current
    from ..serving.bento import save_and_build, save_model

    root, artifacts = root_of(args), artifacts_of(args)
    lineage = ensure_current(params_of(args), root, artifacts)
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


def cmd_predict(args: argparse.Namespace) -> int:
    """Score a CSV or Parquet file in chunks: one prediction per row (in-process or on Dask)."""
    from ..predict import Job, load_last_run, load_stage, run

    params = params_of(args)
    job = Job(
        input=data_file(args, params, args.input, "--input"),
        output=data_file(args, params, args.output, "--output"),
        id_column=args.id_column,
        rejects=data_file(args, params, args.rejects, "--rejects") if args.rejects else None,
        chunk_rows=args.chunk_rows,
        scheduler=args.scheduler or None,
        label=args.input,
    )
    if args.stage:
        model = load_stage(args.stage, root_of(args), artifacts_of(args))
    else:
        model = load_last_run(params, root_of(args), artifacts_of(args))
    progress = printer("predict")
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
    from ..predict import stage_version

    version = stage_version(args.stage, root_of(args))
    print(f"[stage] {args.stage} runs {version.version} ({version.tag}, commit {version.commit})")
    if args.github_output:
        write_github_output(
            {"version": version.version, "tag": version.tag, "commit": version.commit}
        )
    return EXIT_OK


def add_stage_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stage``."""
    parser.add_argument("--stage", required=True, help="staging or prod")
    add_github_output(parser, "version, tag and commit")


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``predict``."""
    from ..predict import CHUNK_ROWS, SCHEDULER_ENV

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
