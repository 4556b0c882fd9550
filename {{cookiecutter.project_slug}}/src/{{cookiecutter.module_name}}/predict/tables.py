"""Reading the input in chunks and writing the outputs, staged: CSV or Parquet by suffix."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError

if TYPE_CHECKING:
    import pandas as pd


#: Input formats by suffix, and output formats by suffix.
INPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


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

    The name follows :mod:`..artifacts`' convention (``.<name>.<pid>.<random>.tmp``), so what a
    killed run leaves is recognisable and removed by :func:`..artifacts.sweep_stale`.
    """
    from ..artifacts import disk_full_is_an_error, sweep_stale

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
