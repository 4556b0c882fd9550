"""Batch scoring: a CSV or Parquet file in, one prediction per row out, in bounded memory.

The file is read and scored in chunks of ``chunk_rows`` rows, so peak memory depends on the
chunk size, not on the file. Each chunk is validated with the service's own policy
(:func:`..schema.check_rows`, built from the same lineage record as the service's request
schema), so a row the service would refuse is refused here too. A refused row stops the run
with its line number and reason, unless ``rejects`` names a file: then the refused rows go
there with their reasons and the others are scored.

Nothing is half-written: the output (and the rejects file) grows under a temporary name next
to it and is moved into place once every chunk is scored; an error or an interrupt removes it.

With a Dask scheduler address the same chunk function runs on the cluster's workers: Dask
reads the file in partitions on the workers, the model is sent to every worker once, and the
results come back in order to be written here (:func:`.job.score_on_dask`). Without one everything
runs in this process.

- :mod:`.models`: the model (the last run's, or a stage's);
- :mod:`.scoring`: one chunk validated and scored;
- :mod:`.tables`: chunked reading, staged writing (CSV, Parquet);
- :mod:`.job`: the run, in process or on Dask.
"""

from .job import CHUNK_ROWS, SCHEDULER_ENV, Job, Summary, run
from .models import Model, load_last_run, load_stage, stage_version

__all__ = [
    "CHUNK_ROWS",
    "SCHEDULER_ENV",
    "Job",
    "Model",
    "Summary",
    "load_last_run",
    "load_stage",
    "run",
    "stage_version",
]
