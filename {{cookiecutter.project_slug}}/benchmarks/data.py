"""Benchmark `make data`: pull a DVC-tracked file of ~100 MB from an S3 remote and a folder remote.

A synthetic CSV (the benchmarks' mixed columns, rows until it reaches ``--mb``) is tracked with
the project's own datastore module in a temporary DVC project and pushed to two remotes: a real
S3 server (moto, started on 127.0.0.1; `make bench-data` adds it to the environment for this run
only) and a local folder. Each timed run is the real command of `make data` (``python -m
<package> data``, a new process) in a state like a fresh clone: no data file, empty DVC cache.
The baseline is copying the same file (``shutil.copyfile``), the floor of any transfer.

Usage: python benchmarks/data.py [--mb 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml
from common import package_name, synthetic

DATA = "data/big.csv"
BUCKET = "bench-data"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret"}


def write_csv(path: Path, megabytes: int) -> int:
    """Write synthetic rows until the file holds ``megabytes`` MB; return the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    chunk = synthetic(50_000, seed=0)
    chunk["target"] = chunk["target"].astype(int)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        while handle.tell() < megabytes * 1_000_000:
            handle.write(chunk.to_csv(index=False, header=rows == 0, lineterminator="\n"))
            rows += len(chunk)
    return rows


def start_s3() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    binary = shutil.which("moto_server") or sys.exit("moto_server not found: run `make bench-data`")
    server = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()  # noqa: S310 - http
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("moto_server did not start")
            time.sleep(0.2)
    request = urllib.request.Request(f"{endpoint}/{BUCKET}", method="PUT")  # noqa: S310 - http
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - http://127.0.0.1
    return server, endpoint


def timed_pull(root: Path, package: str, env: dict[str, str], repeat: int) -> list[float]:
    """Seconds of `python -m <package> data` from an empty cache and no data file, ``repeat`` x.

    A first, untimed run warms the bytecode and file caches, as on a machine that ran it before.
    """
    times = []
    for _ in range(repeat + 1):
        (root / DATA).unlink(missing_ok=True)
        shutil.rmtree(root / ".dvc" / "cache", ignore_errors=True)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", package, "data", "--params", str(root / "params.yaml")],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - started)
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    package = package_name()
    datastore = importlib.import_module(f"{package}.data.datastore")
    from dvc.repo import Repo

    server, endpoint = start_s3()
    env = {**os.environ, **CREDENTIALS, "AWS_EC2_METADATA_DISABLED": "true"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # else every run compiles scikit-learn again
    os.environ.update(CREDENTIALS)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
            root = Path(tmp) / "project"
            root.mkdir()
            Repo.init(str(root), no_scm=True).close()
            params = {
                "task": "classification",
                "seed": 42,
                "data": {"path": DATA, "target": "target"},
                "model": {"type": "logistic_regression"},
            }
            (root / "params.yaml").write_text(yaml.safe_dump(params))
            rows = write_csv(root / DATA, args.mb)
            size = (root / DATA).stat().st_size
            print(f"data: {rows} rows, {size / 1e6:.1f} MB ({DATA})")
            datastore.track(root, DATA)
            original = (root / DATA).read_bytes()

            started = time.perf_counter()
            shutil.copyfile(root / DATA, Path(tmp) / "copy.csv")
            baseline = time.perf_counter() - started

            results = {}
            for name, url, options in [
                ("S3 (moto, 127.0.0.1)", f"s3://{BUCKET}/bench", endpoint),
                ("local folder", str(Path(tmp) / "remote"), None),
            ]:
                datastore.set_remote(root, url, options)
                started = time.perf_counter()
                datastore.push(root, DATA)
                push = time.perf_counter() - started
                pulls = timed_pull(root, package, env, args.repeat)
                if (root / DATA).read_bytes() != original:
                    sys.exit(f"{name}: the pulled bytes differ from the tracked ones")
                results[name] = (push, pulls)
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(f"\n{'remote':<22}  {'push s':>7}  {'make data s (median)':>21}  {'MB/s':>6}  runs")
    for name, (push, pulls) in results.items():
        median = statistics.median(pulls)
        runs = ", ".join(f"{t:.2f}" for t in pulls)
        print(f"{name:<22}  {push:7.2f}  {median:21.2f}  {size / 1e6 / median:6.0f}  {runs}")
    print(f"{'baseline: file copy':<22}  {'':>7}  {baseline:21.2f}  {size / 1e6 / baseline:6.0f}")


if __name__ == "__main__":
    main()
