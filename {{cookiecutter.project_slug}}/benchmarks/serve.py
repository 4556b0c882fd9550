"""Benchmark the BentoML service over HTTP on 127.0.0.1 against the in-process floor.

Saves artifacts/model.joblib (from `make train`) into a temporary BentoML store, then for each
server configuration starts `bentoml serve`, waits until it is ready and sends 1-row and 100-row
`/predict` requests at concurrency 1, 4 and 16 (keep-alive connections, one per client thread).
Prints p50/p99 latency and throughput next to the in-process `pipeline.predict` time of the same
rows. Every run is bounded in time (--seconds) and count (--max-requests); the server is always
stopped (its process group is signalled).

    python benchmarks/serve.py [--seconds 3] [--configs default,tuned]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from {{ cookiecutter.module_name }}.processes import stop_group

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]

CONFIGS = {
    # BentoML's defaults: one worker, no adaptive batching.
    "default": {"SERVICE_WORKERS": "1", "SERVICE_BATCHING": "off"},
    "batching": {"SERVICE_WORKERS": "1", "SERVICE_BATCHING": "on"},
    "workers2": {"SERVICE_WORKERS": "2", "SERVICE_BATCHING": "off"},
    # What service.py ships with.
    "tuned": {"SERVICE_WORKERS": "2", "SERVICE_BATCHING": "on"},
}


def package_name() -> str:
    (init,) = (ROOT / "src").glob("*/service.py")
    return init.parent.name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 90) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise SystemExit("bentoml serve exited before it was ready")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"not ready in {timeout} s")


def load(
    port: int, body: bytes, clients: int, seconds: float, max_requests: int
) -> dict[str, Any]:  # counts, the status table and figures
    latencies: list[float] = []
    errors: dict[int, int] = {}
    lock = threading.Lock()
    count = [0]
    deadline = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"content-type": "application/json"}
        mine = []
        while time.monotonic() < deadline:
            with lock:
                if count[0] >= max_requests:
                    break
                count[0] += 1
            start = time.perf_counter()
            conn.request("POST", "/predict", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200:
                with lock:
                    errors[response.status] = errors.get(response.status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": sum(errors.values()),
        "status": errors,
        "p50_ms": 1000 * latencies[n // 2],
        "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))],
        "req_s": n / elapsed,
    }


def in_process_floor(pipeline: Pipeline, frame: pd.DataFrame, repeat: int = 200) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        pipeline.predict(frame)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each run")
    parser.add_argument("--max-requests", type=int, default=20000, help="cap per run")
    parser.add_argument("--configs", default="default,tuned", help=f"from {','.join(CONFIGS)}")
    parser.add_argument("--rows", default="1,100", help="rows per request (comma-separated)")
    parser.add_argument("--concurrency", default="1,4,16", help="client threads (comma-separated)")
    parser.add_argument("--artifacts", type=Path, default=ROOT / "artifacts")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    row_counts = [int(n) for n in args.rows.split(",")]
    concurrency = [int(n) for n in args.concurrency.split(",")]

    import joblib
    import pandas as pd

    lineage = json.loads((args.artifacts / "lineage.json").read_text(encoding="utf-8"))
    features = lineage["data"]["features"]
    data = pd.read_csv(ROOT / lineage["data"]["path"])
    rows = data[[f["name"] for f in features]].head(max(row_counts))
    records = json.loads(rows.to_json(orient="records"))
    pipeline = joblib.load(args.artifacts / "model.joblib")
    package = package_name()
    results = []

    with tempfile.TemporaryDirectory(prefix="bench-bentoml-") as home:
        env = dict(os.environ, BENTOML_HOME=home, BENTOML_DO_NOT_TRACK="true")
        env.pop("MODEL_TAG", None)
        subprocess.run(
            [sys.executable, "-m", package, "bento", "--artifacts", str(args.artifacts),
             "--no-build"],
            env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        floors = {n: in_process_floor(pipeline, rows.head(n)) for n in row_counts}
        model = lineage["model"]["type"]
        print(f"cpus: {os.cpu_count()}; {args.seconds:g} s per run; model {model}")
        for name in args.configs.split(","):
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "bentoml", "serve", f"{package}.service:Predictor",
                 "--host", "127.0.0.1", "--port", str(port)],
                env={**env, **CONFIGS[name]}, cwd=ROOT, start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                ready = wait_ready(port, process)
                print(f"\n== {name} {CONFIGS[name]} (ready in {ready:.1f} s)")
                print(f"{'rows':>4} {'conc':>4} {'req/s':>8} {'rows/s':>9} {'p50 ms':>7} "
                      f"{'p99 ms':>7} {'errors':>6} {'floor ms':>8}")  # fmt: skip
                for n in row_counts:
                    body = json.dumps({"records": records[:n]}).encode()
                    load(port, body, 4, 1.0, 500)  # warm up (and train the batching optimizer)
                    for clients in concurrency:
                        r = load(port, body, clients, args.seconds, args.max_requests)
                        r |= {"config": name, "rows": n, "concurrency": clients,
                              "floor_ms": floors[n]}  # fmt: skip
                        results.append(r)
                        print(f"{n:>4} {clients:>4} {r['req_s']:>8.0f} {r['req_s'] * n:>9.0f} "
                              f"{r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['errors']:>6} "
                              f"{floors[n]:>8.2f}")  # fmt: skip
                        if r["status"]:
                            print(f"          non-200 answers by status: {r['status']}")
            finally:
                stop_group(process, grace=20)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
