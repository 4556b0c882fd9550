"""Batch scoring: a CSV or Parquet file in, one prediction per row out, in bounded memory.

The file is read and scored in chunks of ``chunk_rows`` rows, so peak memory depends on the
chunk size, not on the file. Each chunk is validated with the service's own policy
(:func:`.schema.check_rows`, built from the same lineage record as the service's request
schema), so a row the service would refuse is refused here too. A refused row stops the run
with its line number and reason, unless ``rejects`` names a file: then the refused rows go
there with their reasons and the others are scored.

Nothing is half-written: the output (and the rejects file) grows under a temporary name next
to it and is moved into place once every chunk is scored; an error or an interrupt removes it.

With a Dask scheduler address the same chunk function runs on the cluster's workers: Dask
reads the file in partitions on the workers, the model is sent to every worker once, and the
results come back in order to be written here (:func:`score_on_dask`). Without one everything
runs in this process.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ArtifactError, DataError
from .layout import ArtifactLayout
from .progress import Progress, quiet

if TYPE_CHECKING:
    import pandas as pd

    from .config import Params
    from .release import Version

#: Input formats by suffix, and output formats by suffix.
INPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
#: Rows read and scored at a time in this process: with the one read ahead, bounds memory.
CHUNK_ROWS = 100_000
#: Bytes per Dask partition of a CSV input (Parquet inputs keep their row groups).
DASK_BLOCKSIZE = "64MB"
#: The environment variable Dask itself reads for a scheduler address (Client() uses it too).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
PREDICTION = "prediction"
PROBABILITY_PREFIX = "probability_"
#: Columns of the rejects file besides the row's own columns.
REJECT_LINE, REJECT_REASON = "line", "reason"


@dataclass(frozen=True)
class Model:
    """A fitted pipeline with the lineage record it was trained under, and where it came from."""

    pipeline: Any
    lineage: dict[str, Any]
    source: str

    @property
    def features(self) -> list[dict[str, Any]]:
        """The feature schema the service derives its request schema from."""
        return list(self.lineage["data"]["features"])

    @property
    def task(self) -> str:
        """``classification`` or ``regression``."""
        return str(self.lineage["task"])


@dataclass(frozen=True)
class ChunkResult:
    """Predictions of the valid rows of one chunk, and the refused rows with their reasons."""

    predictions: pd.DataFrame
    rejects: pd.DataFrame
    rows: int


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


# --------------------------------------------------------------------------- the model


def load_last_run(params: Params, root: Path, artifacts: Path) -> Model:
    """The model of the last training run (refused when stale, as every consumer does)."""
    import joblib

    from .lineage import ensure_current

    lineage = ensure_current(params, root, artifacts)
    model = joblib.load(ArtifactLayout(artifacts).model)
    return Model(model, lineage.to_json(), f"the last run ({artifacts.name}/)")


def stage_version(stage: str, root: Path) -> Version:
    """The registered version GTO assigned to ``stage`` (release.py reads the tags).

    Raises:
        ReleaseError: the stage is unknown or has no version assigned.
    """
    from .errors import ReleaseError
    from .release import ensure_stage, read_state

    ensure_stage(root, stage)
    state = read_state(root)
    assignment = state.current(stage)
    if assignment is None:
        raise ReleaseError(
            f"no version is assigned to {stage} (make promote VERSION=... STAGE=...)"
        )
    return state.versions[assignment.version]


def load_stage(stage: str, root: Path, artifacts: Path) -> Model:
    """The model GTO says runs in ``stage``: its registration's model sha256, found locally.

    The registered model is looked for in ``artifacts/`` (the last run) and in the BentoML
    store (``make bento``), by the sha256 the registration tag recorded.

    Raises:
        ReleaseError: the stage is unknown or has no version assigned.
        ArtifactError: no local model has the registered sha256 (the message says how to get it).
    """
    import joblib

    from .artifacts import read_json, sha256_file
    from .errors import ReleaseError

    version = stage_version(stage, root)
    wanted = version.fields.get("model-sha256")
    if not wanted:
        raise ReleaseError(f"{version.tag} records no model-sha256: register it again")
    source = f"{stage}: {version.version} ({version.tag})"
    layout = ArtifactLayout(artifacts)
    model_file = layout.model
    if model_file.is_file() and sha256_file(model_file) == wanted:
        lineage = read_json(layout.lineage, "run `make train` first")
        return Model(joblib.load(model_file), lineage, source)
    stored = _bentoml_model(wanted)
    if stored is not None:
        return Model(stored[0], stored[1], f"{source}, BentoML store")
    raise ArtifactError(
        f"{stage} runs {version.version}, whose model (sha256 {wanted[:12]}) is neither "
        f"{model_file.name} in {artifacts} nor in the BentoML store: check out {version.tag} and "
        "run `make train` (training is reproducible) or `make bento` there"
    )


def _bentoml_model(sha256: str) -> tuple[Any, dict[str, Any]] | None:
    """The pipeline and lineage of the stored BentoML model whose label model_sha256 matches."""
    import json

    import bentoml

    from .bento import MODEL_NAME

    try:
        candidates = bentoml.models.list(MODEL_NAME)
    except bentoml.exceptions.NotFound:
        return None
    for stored in candidates:
        if stored.info.labels.get("model_sha256") == sha256:
            lineage = json.loads(str(stored.info.metadata["lineage_json"]))
            return bentoml.sklearn.load_model(stored.tag), lineage
    return None


# --------------------------------------------------------------------------- scoring one chunk


def output_columns(model: Model) -> list[str]:
    """The prediction columns: ``prediction``, and one probability column per class."""
    columns = [PREDICTION]
    if model.task == "classification" and hasattr(model.pipeline, "predict_proba"):
        columns += [f"{PROBABILITY_PREFIX}{c}" for c in model.pipeline.classes_.tolist()]
    return columns


def score_chunk(
    frame: pd.DataFrame,
    pipeline: Any,  # noqa: ANN401 - any fitted scikit-learn pipeline
    lineage: dict[str, Any],
    id_column: str | None,
) -> ChunkResult:
    """Validate one chunk with the service's policy and predict its valid rows.

    A pure function of its arguments: the in-process and the Dask paths both call it, so they
    give identical predictions. Row positions in ``rejects`` are relative to the chunk.
    """
    import numpy as np
    import pandas as pd

    from .schema import check_rows

    features = lineage["data"]["features"]
    converted, reasons = check_rows(frame, features)
    good = (reasons == "").to_numpy()
    model = Model(pipeline, lineage, "")
    out = pd.DataFrame(index=range(int(good.sum())))
    if id_column is not None:
        out[id_column] = frame[id_column].to_numpy()[good]
    rows = converted if good.all() else converted[good]
    columns = output_columns(model)
    if len(rows):
        if model.task == "classification" and len(columns) > 1:
            steps: list[tuple[str, Any]] = getattr(pipeline, "steps", [])
            head, tail = (pipeline[:-1], steps[-1][1]) if len(steps) > 1 else (None, pipeline)
            inputs = head.transform(rows) if head is not None else rows
            out[PREDICTION] = tail.predict(inputs)
            out[columns[1:]] = tail.predict_proba(inputs)
        else:
            out[PREDICTION] = pipeline.predict(rows)
    else:
        for column in columns:
            out[column] = pd.Series(dtype="float64")
    bad = ~good
    rejects = frame[bad].astype("object").reset_index(drop=True)
    rejects.insert(0, REJECT_REASON, reasons[bad].to_numpy())
    rejects.insert(0, REJECT_LINE, np.flatnonzero(bad))
    return ChunkResult(out, rejects, len(frame))


# --------------------------------------------------------------------------- reading and writing


def input_format(path: Path) -> str:
    """``csv`` or ``parquet`` by the file's suffix; refuse others."""
    kind = INPUT_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unknown input format (expected {', '.join(INPUT_FORMATS)})")
    return kind


def output_format(path: Path) -> str:
    """``parquet`` or ``csv`` by the file's suffix; refuse others."""
    kind = OUTPUT_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unknown output format (expected {', '.join(OUTPUT_FORMATS)})")
    return kind


def read_columns(path: Path, kind: str) -> list[str]:
    """The column names of the input file (its header), without reading its rows."""
    import pandas as pd

    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            return [str(c) for c in pq.read_schema(path).names]
        except Exception as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    try:
        return [str(c) for c in pd.read_csv(path, nrows=0, skipinitialspace=True).columns]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None


def read_chunks(path: Path, kind: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Yield the rows of ``path`` in chunks; each chunk's index counts rows from 0 in the file."""
    import pandas as pd

    if kind == "parquet":
        import pyarrow.parquet as pq

        start = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(start, start + len(frame))
            start += len(frame)
            yield frame
        return
    try:
        yield from pd.read_csv(path, chunksize=chunk_rows, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        message = str(exc).strip().splitlines()[-1]
        raise DataError(f"{path}: not a valid CSV file: {message}") from None


def read_ahead(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Yield ``chunks`` while a thread reads the next one: parsing overlaps scoring.

    pandas' CSV parser and most numpy/scikit-learn work release the GIL, so on two cores the
    read of chunk N+1 runs while chunk N is scored. One chunk waits at most (bounded memory);
    an error in the reader is raised here, and stopping early stops the reader.
    """
    import queue
    import threading

    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def reader() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        handoff.put(("chunk", chunk), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put(("done", None))
        except BaseException as exc:
            handoff.put(("error", exc))

    thread = threading.Thread(target=reader, name="predict-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = handoff.get()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            handoff.get_nowait()  # unblock a reader waiting to hand over
        thread.join(timeout=5)


@contextlib.contextmanager
def staged(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only if the block succeeds.

    The name follows :mod:`.artifacts`' convention (``.<name>.<pid>.<random>.tmp``), so what a
    killed run leaves is recognisable and removed by :func:`.artifacts.sweep_stale`.
    """
    from .artifacts import disk_full_is_an_error, sweep_stale

    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path.parent)
    fd, name = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        with disk_full_is_an_error(path):
            yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


class TableWriter:
    """Append DataFrames to one Parquet or CSV file (every chunk with the first one's schema)."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self._parquet: Any = None
        self._header = True
        self._empty: pd.DataFrame | None = None

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame``; empty frames are kept back (their dtypes are guesses)."""
        if not len(frame):
            if self._empty is None:
                self._empty = frame
            return
        if self.kind == "csv":
            frame.to_csv(
                self.path, mode="w" if self._header else "a", header=self._header, index=False
            )
            self._header = False
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.path, table.schema)
        elif table.schema != self._parquet.schema:
            try:
                table = table.cast(self._parquet.schema)
            except (pa.ArrowInvalid, ValueError) as exc:
                raise DataError(f"{self.path}: a chunk's columns changed type ({exc})") from None
        self._parquet.write_table(table)

    def close(self) -> None:
        """Finish the file (Parquet writes its footer here); no row at all gives the header."""
        if self._parquet is not None:
            self._parquet.close()
        elif self._header and self._empty is not None:
            if self.kind == "csv":
                self._empty.to_csv(self.path, index=False)
            else:
                self._empty.to_parquet(self.path, index=False)


# --------------------------------------------------------------------------- the run


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


# --------------------------------------------------------------------------- Dask


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
