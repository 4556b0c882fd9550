"""Start a local Dask cluster of N worker processes, then run the CLI's arguments against it.

Used by predict.py --dask-workers N: python benchmarks/dask_predict.py N -m PACKAGE predict ...
(the peak RSS measured is this process's, the cluster's workers are processes of their own).
"""

from __future__ import annotations

import runpy
import sys

from distributed import LocalCluster


def main() -> None:
    workers, argv = int(sys.argv[1]), sys.argv[2:]
    with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0") as cluster:
        sys.argv = [argv[1], *argv[2:], "--scheduler", cluster.scheduler_address]
        try:
            runpy.run_module(argv[1], run_name="__main__")
        except SystemExit as done:
            if done.code:
                raise


if __name__ == "__main__":
    main()
