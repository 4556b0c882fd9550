"""One batch-scoring run: the job checked before any row is read, then every chunk scored.

Without a scheduler the chunks are read and scored in this process; with one, on a Dask
cluster (:func:`score_on_dask`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from ..progress import Progress, quiet
from .models import Model
from .scoring import REJECT_LINE, REJECT_REASON, ChunkResult, output_columns, score_chunk
from .tables import (
    TableWriter,
    input_format,
    output_format,
    read_ahead,
    read_chunks,
    read_columns,
    staged,
)

if TYPE_CHECKING:
    import pandas as pd


#: Rows read and scored at a time in this process: with the one read ahead, bounds memory.
CHUNK_ROWS = 100_000
#: Bytes per Dask partition of a CSV input (Parquet inputs keep their row groups).
DASK_BLOCKSIZE = "64MB"
#: The environment variable Dask itself reads for a scheduler address (Client() uses it too).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


@dataclass(frozen=True)
class Summary:
    """What one batch-scoring run did."""

    rows: int
    scored: int
    rejected: int
    seconds: float
    output: Path
    rejects: Path | None
    model: str
    engine: str


@dataclass(frozen=True)
class Job:
    """What to score and where the results go (paths already checked)."""

    input: Path
    output: Path
    id_column: str | None = None
    rejects: Path | None = None
    chunk_rows: int = CHUNK_ROWS
    scheduler: str | None = None
    label: str = ""

    @property
    def shown(self) -> str:
        """How messages name the input: as the user gave it."""
        return self.label or str(self.input)


def check_job(job: Job, model: Model) -> None:
    """Refuse a job before reading any row: formats, paths, missing or clashing columns."""
    kind = input_format(job.input)
    output_format(job.output)
    if not job.input.is_file():
        raise DataError(f"{job.shown}: file not found")
    outputs = [job.output] + ([job.rejects] if job.rejects else [])
    for path in outputs:
        if path.resolve() == job.input.resolve():
            raise DataError(f"{path}: would overwrite the input")
    if job.rejects is not None and job.rejects.suffix.lower() != ".csv":
        raise DataError(f"--rejects {job.rejects}: must be a .csv file (rows keep their raw text)")
    if job.rejects is not None and job.rejects.resolve() == job.output.resolve():
        raise DataError(f"--rejects {job.rejects}: must differ from the output")
    if job.chunk_rows < 1:
        raise DataError(f"--chunk-rows: must be at least 1 (got {job.chunk_rows})")
    columns = read_columns(job.input, kind)
    missing = [f["name"] for f in model.features if f["name"] not in columns]
    if missing:
        raise DataError(
            f"{job.shown}: feature column(s) the model needs are missing: {', '.join(missing)}"
        )
    if job.id_column is not None:
        if job.id_column not in columns:
            raise DataError(f"{job.shown}: --id-column {job.id_column!r} is not a column")
        if job.id_column in output_columns(model):
            raise DataError(f"--id-column {job.id_column!r}: clashes with an output column")


def _where(job: Job, kind: str, row: int) -> str:
    """A row's place in the input: its file line for CSV (line 1 is the header), else its row."""
    return f"line {row + 2}" if kind == "csv" else f"row {row + 1}"


def run(job: Job, model: Model, progress: Progress = quiet) -> Summary:
    """Score ``job.input`` with ``model`` into ``job.output`` (see the module docstring).

    Raises:
        DataError: a bad file, or a refused row when ``job.rejects`` is not set (nothing is
            written then).
    """
    clock = time.perf_counter()
    check_job(job, model)
    kind = input_format(job.input)
    if job.scheduler:
        engine = f"dask ({job.scheduler})"
        results: Iterator[ChunkResult] = score_on_dask(job, kind, model, progress)
    else:
        engine = "in-process"
        results = (
            score_chunk(chunk, model.pipeline, model.lineage, job.id_column)
            for chunk in read_ahead(read_chunks(job.input, kind, job.chunk_rows))
        )
    rows = scored = rejected = 0
    with contextlib.ExitStack() as stack:
        out = TableWriter(stack.enter_context(staged(job.output)), output_format(job.output))
        bad = TableWriter(stack.enter_context(staged(job.rejects)), "csv") if job.rejects else None
        for result in results:
            if len(result.rejects):
                first = result.rejects.iloc[0]
                where = _where(job, kind, rows + int(first[REJECT_LINE]))
                if bad is None:
                    raise DataError(
                        f"{job.shown}: {where}: {first[REJECT_REASON]}; nothing written "
                        "(--rejects PATH writes refused rows there and scores the others)"
                    )
                lines = result.rejects[REJECT_LINE] + rows + (2 if kind == "csv" else 1)
                bad.write(result.rejects.assign(**{REJECT_LINE: lines}))
            out.write(result.predictions)
            rows += result.rows
            scored += len(result.predictions)
            rejected += len(result.rejects)
            progress(f"{rows} rows: {scored} scored, {rejected} refused")
        out.close()
        if bad is not None:
            bad.write(_empty_rejects(job, kind))  # the header, when no row was refused
            bad.close()
    return Summary(
        rows,
        scored,
        rejected,
        time.perf_counter() - clock,
        job.output,
        job.rejects,
        model.source,
        engine,
    )


def _empty_rejects(job: Job, kind: str) -> pd.DataFrame:
    """A rejects frame with no row: the header alone, so the file always exists after a run."""
    import pandas as pd

    return pd.DataFrame(columns=[REJECT_LINE, REJECT_REASON, *read_columns(job.input, kind)])


def score_on_dask(
    job: Job, kind: str, model: Model, progress: Progress = quiet
) -> Iterator[ChunkResult]:
    """Score the partitions of ``job.input`` on the Dask cluster at ``job.scheduler``, in order.

    Workers read the partitions themselves (the path must be the same on them: a shared volume
    or the same machine), the model is broadcast to every worker once, and at most two
    partitions per worker thread are in flight, so memory here stays bounded too.
    """
    import dask.dataframe as dd
    from distributed import Client

    try:
        client = Client(job.scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise DataError(f"Dask scheduler {job.scheduler}: cannot connect ({exc})") from None
    with client:
        if kind == "parquet":
            frame = dd.read_parquet(str(job.input))
        else:
            frame = dd.read_csv(str(job.input), blocksize=DASK_BLOCKSIZE, skipinitialspace=True)
        parts = frame.to_delayed()
        threads = max(1, sum(client.nthreads().values()))
        progress(
            f"{len(parts)} partition(s) on {len(client.nthreads())} worker(s), {threads} thread(s)"
        )
        [pipeline] = client.scatter([model.pipeline], broadcast=True)
        window = 2 * threads
        pending: list[Any] = []
        for part in parts:
            chunk = client.compute(part)
            pending.append(
                client.submit(score_chunk, chunk, pipeline, model.lineage, job.id_column)
            )
            if len(pending) >= window:
                yield pending.pop(0).result()
        while pending:
            yield pending.pop(0).result()
