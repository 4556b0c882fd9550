"""The traffic log: what the served model saw and answered, as batches for ``make monitor``.

Each worker process of ``make serve`` (or of the bento in a container) appends one JSON line per
predicted row to a file of its own, so lines of concurrent workers never interleave::

    {"time": "2026-12-05T09:30:00.123Z", "model": "name:tag",
     "input": {"feature": value, ...}, "output": {"prediction": ..., ...}}

Files are named ``traffic-<UTC start>-<pid>-<n>.jsonl`` (name order is time order) and rotated by
size: past ``max_file_mb`` a worker starts file ``n+1`` and deletes its own files beyond
``keep_files``. Where: ``serving.traffic_log.dir`` in params.yaml (recorded in the lineage, so
the bento carries it; relative to the server's working directory), overridden at serve time by
the environment variable :data:`DIR_ENV` (``off`` turns logging off, as ``dir: null`` does).

Logging never fails or delays a request beyond the write itself: a write that fails (full disk,
read-only or missing folder) logs one warning line, drops that record, and logging resumes
when writing works again.

The logged rows are features only (a caller does not know the true value yet): a monitor run on
them checks feature and prediction drift, not label drift, and ``make retrain`` refuses them
until labels are joined in. :func:`read_log` reads a file back for :mod:`..monitoring.monitor`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import DataError

if TYPE_CHECKING:
    import pandas as pd

DIR_ENV = "TRAFFIC_LOG_DIR"
"""Environment variable overriding ``serving.traffic_log.dir`` (``off`` disables the log)."""
OFF = "off"
SUFFIX = ".jsonl"
PREFIX = "traffic-"
INPUT_KEY, OUTPUT_KEY = "input", "output"
MEGABYTE = 1024 * 1024

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogSettings:
    """Where a worker writes and how much it keeps."""

    folder: Path
    max_file_bytes: int
    keep_files: int


def settings(folder: str | None, max_file_mb: int, keep_files: int) -> LogSettings | None:
    """Resolve the log's settings from params and :data:`DIR_ENV`; None when it is off."""
    chosen = os.environ.get(DIR_ENV, "").strip() or folder  # an empty variable is unset
    if chosen is None or not chosen.strip() or chosen.strip().lower() == OFF:
        return None
    return LogSettings(Path(chosen), max_file_mb * MEGABYTE, keep_files)


def _utc(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TrafficLog:
    """One worker's size-rotated JSON-lines log of served rows and their predictions."""

    def __init__(self, log: LogSettings, model_tag: str) -> None:
        """Log into ``log.folder`` (created on the first write) rows served by ``model_tag``."""
        self.settings = log
        self.model_tag = model_tag
        started = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        self._stem = f"{PREFIX}{started}-{os.getpid()}"
        self._number = 0
        self._file: IO[str] | None = None
        self._size = 0
        self._failing = False

    def path(self, number: int) -> Path:
        """The file this worker writes as its ``number``-th."""
        return self.settings.folder / f"{self._stem}-{number:04d}{SUFFIX}"

    def write(self, inputs: Sequence[Mapping[str, Any]], outputs: Sequence[Any]) -> None:
        """Append one line per row; never raises for an I/O problem (one warning instead)."""
        now = _utc(time.time())
        lines = "".join(
            json.dumps(
                {"time": now, "model": self.model_tag, INPUT_KEY: row, OUTPUT_KEY: output},
                default=str,
                allow_nan=False,
            )
            + "\n"
            for row, output in zip(inputs, outputs, strict=True)
        )
        try:
            handle = self._open()
            handle.write(lines)
            handle.flush()  # whole lines on disk: a monitor run may read the file meanwhile
        except (OSError, ValueError) as error:  # ValueError: NaN in a row (not valid JSON)
            self._fail(error)
            return
        if self._failing:
            logger.warning("traffic log: writing to %s works again", self.settings.folder)
            self._failing = False
        self._size += len(lines.encode())
        if self._size >= self.settings.max_file_bytes:
            self._rotate()

    def close(self) -> None:
        """Close the current file (the next write opens it again); never raises."""
        handle, self._file = self._file, None
        if handle is not None:
            with contextlib.suppress(OSError):  # flushing what a full disk refused fails again
                handle.close()

    def _open(self) -> IO[str]:
        if self._file is None:
            self.settings.folder.mkdir(parents=True, exist_ok=True)
            path = self.path(self._number)
            self._file = path.open("a", encoding="utf-8")
            self._size = path.stat().st_size
        return self._file

    def _fail(self, error: OSError | ValueError) -> None:
        if not self._failing:  # one line per failure streak, not one per request
            logger.warning("traffic log: record dropped, cannot write to %s: %s",
                           self.settings.folder, error)  # fmt: skip
            self._failing = True
        self.close()  # a file left half-written is reopened (appended to) on the next write

    def _rotate(self) -> None:
        self.close()
        self._number += 1
        old = self._number - self.settings.keep_files
        if old >= 0:
            try:
                self.path(old).unlink(missing_ok=True)
            except OSError as error:
                self._fail(error)


def log_files(folder: Path) -> list[Path]:
    """The traffic log files in ``folder``, in name (time) order."""
    return sorted(p for p in folder.glob(f"{PREFIX}*{SUFFIX}") if p.is_file())


def read_log(path: Path, label: str) -> pd.DataFrame:
    """Read the logged input rows of one traffic log file as a DataFrame (features only).

    A last line without its newline is a write in progress and is left out.

    Raises:
        DataError: naming the file and line for a line that is not a logged row, and for a
            file with no rows.
    """
    import pandas as pd

    text = path.read_text(encoding="utf-8", errors="strict")
    lines = text.split("\n")
    complete = lines[:-1]  # the text after the last newline: empty, or a write in progress
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{label}: line {number}: not a JSON line ({error.msg})") from None
        row = entry.get(INPUT_KEY) if isinstance(entry, dict) else None
        if not isinstance(row, dict):
            raise DataError(f"{label}: line {number}: not a traffic log record (no {INPUT_KEY!r})")
        rows.append(row)
    if not rows:
        raise DataError(f"{label}: no logged rows")
    return pd.DataFrame.from_records(rows)
