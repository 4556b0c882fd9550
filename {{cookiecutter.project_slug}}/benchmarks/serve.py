"""Benchmark the served model over HTTP on 127.0.0.1 with `hey`, a compiled load generator.

A Python client on the same cores steals the server's CPU and understates throughput, so the
load comes from `hey` (Debian/Ubuntu package `hey`); without it this benchmark stops. It saves
artifacts/model.joblib (from `make train`) into a temporary BentoML store, then serves it twice
with `bentoml serve`:

- shipped: the service as `make serve` runs it (2 workers, adaptive batching, compiled
  preprocessing, uvloop and httptools, traffic log on, into a temporary folder);
- default: what `bentoml serve` gives the same service untuned: one worker, no batching, the
  pipeline's own scikit-learn preprocessing, the asyncio loop and h11 (uvloop and httptools
  are hidden from it: BentoML itself does not depend on them, uvicorn picks them only when
  installed), no traffic log. It keeps the
  model's ``serving.access_log``/``tracing`` settings (off by default), so the ratio to it
  understates the gain over BentoML's own defaults, where both are on.

Each server gets 1-row `/predict` requests: `hey -c 16` (as fast as it answers) and a steady
200 req/s (`hey -c 4 -q 50`); and `GET /livez` at the same rate (a route that does nothing:
what the HTTP stack and the machine cost by themselves). Latency percentiles are computed from
hey's per-request CSV; a request missing from it (a connection error) or not answered 200 is
counted as an error. Beside them, in process: `pipeline.predict` of the same 1-row frame
(scikit-learn end to end), the service's inference of that row (`Inference.answers`: the
compiled preprocessing and the model, see `pipeline/compiled_features.py`), and the median time
of the service's whole request path (its ASGI app: guard, JSON, validation, inference, answer).

    python benchmarks/serve.py [--seconds 10] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import http.client
import importlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from common import package_name

from {{ cookiecutter.module_name }}.layout import ArtifactLayout
from {{ cookiecutter.module_name }}.processes import stop_group
from {{ cookiecutter.module_name }}.records import Lineage
from {{ cookiecutter.module_name }}.serving.inference import Inference

ROOT = Path(__file__).resolve().parents[1]

C16 = 16
"""Concurrent keep-alive connections of the throughput run."""
STEADY_RPS = 200
STEADY_CONNECTIONS = 4
STEADY_PER_CONNECTION = STEADY_RPS // STEADY_CONNECTIONS  # hey's -q is per connection
# Targets (issue 15) and what a figure is compared with.
RATIO_TARGET = 2.5  # c16 throughput, shipped / default
C16_P99_TARGET_MS = 50.0
STEADY_P99_TARGET_MS = 10.0
HEY_COLUMNS = ("response-time", "status-code", "offset")
HIDDEN = ("uvloop", "httptools")  # what the default server must not find


@dataclasses.dataclass(frozen=True)
class Config:
    """One way of serving the same model."""

    name: str
    description: str
    env: dict[str, str]
    hide_fast_paths: bool


@dataclasses.dataclass(frozen=True)
class Run:
    """One hey run against one server."""

    config: str
    load: str
    requests: int
    errors: int
    statuses: dict[str, int]
    req_s: float
    p50_ms: float
    p99_ms: float


@dataclasses.dataclass(frozen=True)
class Results:
    """Everything the benchmark measured (the --json file)."""

    seconds: float
    cpus: int
    model: str
    load_average: tuple[float, float, float]
    floor_ms: float
    inference_ms: float
    preprocessing: str
    request_path_ms: float
    runs: list[Run]


def configs(traffic_dir: Path) -> list[Config]:
    return [
        Config("shipped", "2 workers, batching, uvloop+httptools, traffic log",
               {"TRAFFIC_LOG_DIR": str(traffic_dir)}, hide_fast_paths=False),
        Config("default", "1 worker, no batching, scikit-learn preprocessing, asyncio+h11, "
               "no traffic log",
               {"SERVICE_WORKERS": "1", "SERVICE_BATCHING": "off", "SERVICE_COMPILE": "off",
                "TRAFFIC_LOG_DIR": "off"},
               hide_fast_paths=True),
    ]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 90) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise SystemExit("error: bentoml serve exited before it was ready")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"error: bentoml serve not ready in {timeout} s")


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, round(share * len(sorted_values) + 0.5))  # ceil(share * n), at least 1
    return sorted_values[min(rank, len(sorted_values)) - 1]


def hey(
    hey_path: str, url: str, body: Path | None, requests: int, connections: int,
    qps: int | None = None,
) -> tuple[list[float], list[float], Counter[str]]:  # fmt: skip
    """POST ``body`` (GET without one) with hey; per answer: latency (s), end offset (s), status."""
    command = [hey_path, "-n", str(requests), "-c", str(connections), "-o", "csv", "-t", "30"]
    if body is not None:
        command += ["-m", "POST", "-T", "application/json", "-D", str(body)]
    if qps is not None:
        command += ["-q", str(qps)]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=False)
    lines = done.stdout.splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("response-time,")), None)
    if done.returncode != 0 or header is None:
        said = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SystemExit(f"error: hey exited {done.returncode} without its CSV: {said[0]}")
    latencies: list[float] = []
    ends: list[float] = []
    statuses: Counter[str] = Counter()
    for row in csv.DictReader(lines[header:]):
        if any(row.get(column) in (None, "") for column in HEY_COLUMNS):
            continue  # not a result row
        latency = float(row["response-time"])
        latencies.append(latency)
        ends.append(float(row["offset"]) + latency)
        statuses[row["status-code"]] += 1
    return latencies, ends, statuses


def measure(
    hey_path: str, config: str, load: str, url: str, body: Path | None, requests: int,
    connections: int,
    qps: int | None = None,
) -> Run:  # fmt: skip
    # hey sends n // c requests per connection: a whole multiple, or the rest looks lost
    requests = max(1, round(requests / connections)) * connections
    latencies, ends, statuses = hey(hey_path, url, body, requests, connections, qps)
    if not latencies:
        raise SystemExit(f"error: no request of {config} ({load}) was answered")
    statuses_missing = requests - len(latencies)  # hey leaves connection errors out of its CSV
    if statuses_missing:
        statuses["connection error"] = statuses_missing
    latencies.sort()
    return Run(
        config=config,
        load=load,
        requests=requests,
        errors=sum(n for status, n in statuses.items() if status != "200"),
        statuses=dict(statuses),
        req_s=len(latencies) / max(ends),
        p50_ms=1000 * percentile(latencies, 0.50),
        p99_ms=1000 * percentile(latencies, 0.99),
    )


def median_ms(call: Callable[[], object], repeat: int = 300) -> float:
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


Message = MutableMapping[str, object]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Coroutine[object, object, None]]


async def _post(app: App, body: bytes) -> list[object]:
    """One ``POST /predict`` through ``app``; the statuses it answered."""
    answered = asyncio.Event()
    sent = False
    status: list[object] = []

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    request: Message = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/predict", "raw_path": b"/predict", "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 3000), "state": {},
    }  # fmt: skip
    await app(request, receive, send)
    return status


async def _request_path(app: App, body: bytes, repeat: int) -> float:
    """Median ms of ``POST /predict`` through the service's ASGI app (lifespan started once)."""
    lifespan: asyncio.Queue[Message] = asyncio.Queue()
    started = asyncio.Event()

    async def lifespan_send(message: Message) -> None:
        if message["type"] == "lifespan.startup.failed":
            raise SystemExit(f"error: the service did not start: {message.get('message')}")
        if message["type"] == "lifespan.startup.complete":
            started.set()

    scope: Message = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    await lifespan.put({"type": "lifespan.startup"})
    running: asyncio.Task[None] = asyncio.create_task(app(scope, lifespan.get, lifespan_send))
    await started.wait()
    times: list[float] = []
    for _ in range(repeat + 20):  # the first 20 warm up
        start = time.perf_counter()
        status = await _post(app, body)
        times.append(time.perf_counter() - start)
        if status != [200]:
            raise SystemExit(f"error: the service's ASGI app answered {status} in process")
    await lifespan.put({"type": "lifespan.shutdown"})
    await running
    return 1000 * statistics.median(times[20:])


def request_path_ms(package: str, body: bytes, repeat: int = 300) -> float:
    """Import the service (BENTOML_HOME must hold the model) and time its request path."""
    service = importlib.import_module(f"{package}.serving.service")
    app = cast("App", service.Predictor.to_asgi())
    return asyncio.run(_request_path(app, body, repeat))


@contextmanager
def serving(config: Config, env: dict[str, str], hidden_dir: Path) -> Iterator[str]:
    """Run ``bentoml serve`` with ``config``; yield its URL; always stop its process group."""
    env = {**env, **config.env}
    if config.hide_fast_paths:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hidden_dir), env.get("PYTHONPATH")]))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bentoml", "serve", f"{package_name()}.serving.service:Predictor",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        ready = wait_ready(port, process)
        print(f"{config.name}: {config.description} (ready in {ready:.1f} s)", flush=True)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_group(process, grace=20)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(results: Results) -> str:
    runs = {(run.config, run.load): run for run in results.runs}
    shipped, default = runs["shipped", "c16"], runs["default", "c16"]
    steady, steady_default = runs["shipped", "steady"], runs["default", "steady"]
    livez, livez_default = runs["shipped", "livez"], runs["default", "livez"]
    ratio = shipped.req_s / default.req_s
    rows = [
        ("c16 throughput (req/s)", f"{shipped.req_s:.0f}", f"{default.req_s:.0f}",
         f"ratio {ratio:.2f}x, target >= {RATIO_TARGET}x: {verdict(ratio >= RATIO_TARGET)}"),
        ("c16 p50 ms", f"{shipped.p50_ms:.1f}", f"{default.p50_ms:.1f}", ""),
        ("c16 p99 ms", f"{shipped.p99_ms:.1f}", f"{default.p99_ms:.1f}",
         f"target <= {C16_P99_TARGET_MS:g}: {verdict(shipped.p99_ms <= C16_P99_TARGET_MS)}"),
        (f"{STEADY_RPS} req/s p50 ms", f"{steady.p50_ms:.1f}", f"{steady_default.p50_ms:.1f}", ""),
        (f"{STEADY_RPS} req/s p99 ms", f"{steady.p99_ms:.1f}", f"{steady_default.p99_ms:.1f}",
         f"target <= {STEADY_P99_TARGET_MS:g}: {verdict(steady.p99_ms <= STEADY_P99_TARGET_MS)}"),
        (f"{STEADY_RPS} req/s p99 ms, GET /livez", f"{livez.p99_ms:.1f}",
         f"{livez_default.p99_ms:.1f}", "no model, no validation: the HTTP stack's floor"),
        ("in process: request path ms (median)", f"{results.request_path_ms:.2f}", "",
         "the service's ASGI app, no socket"),
        ("in process: Inference.answers ms", f"{results.inference_ms:.2f}", "",
         f"what the service runs; preprocessing {results.preprocessing.split(' ')[0]}"),
        ("in process: pipeline.predict ms", f"{results.floor_ms:.2f}", "", "scikit-learn's"),
    ]  # fmt: skip
    lines = [f"{'1-row /predict':<38} {'shipped':>8} {'default':>8}  target / baseline"]
    lines += [f"{a:<38} {b:>8} {c:>8}  {d}".rstrip() for a, b, c, d in rows]
    for run in results.runs:
        if run.errors:
            lines.append(f"errors: {run.config} {run.load}: {run.statuses}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each run")
    parser.add_argument("--artifacts", type=Path, help="artifacts folder (default: the project's)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    hey_path = shutil.which("hey")
    if hey_path is None:
        print("error: hey (the load generator) is not on PATH: install it (apt-get install hey, "
              "brew install hey, go install github.com/rakyll/hey@latest)",
              file=sys.stderr)  # fmt: skip
        return 2

    import joblib
    import pandas as pd

    layout = ArtifactLayout.of(ROOT, args.artifacts)
    lineage = Lineage.read(layout.lineage, "run `make train` first")
    features = [feature.model_dump() for feature in lineage.data.features]
    data = pd.read_csv(ROOT / lineage.data.path)
    row = data[[f["name"] for f in features]].head(1)
    records = json.loads(row.to_json(orient="records"))  # NaN -> null
    body = json.dumps({"records": records}).encode()
    pipeline = joblib.load(layout.model)
    package = package_name()
    runs: list[Run] = []

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        root = Path(tmp)
        home = root / "bentoml_home"
        env = dict(os.environ, BENTOML_HOME=str(home), BENTOML_DO_NOT_TRACK="true")
        env.pop("MODEL_TAG", None)
        subprocess.run(
            [sys.executable, "-m", package, "bento", "--artifacts", str(layout.dir),
             "--no-build"],
            env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        body_file = root / "body.json"
        body_file.write_bytes(body)
        hidden = root / "hidden"
        hidden.mkdir()
        for name in HIDDEN:
            (hidden / f"{name}.py").write_text(f"raise ImportError('{name}: hidden')")
        floor = median_ms(lambda: pipeline.predict(row))
        inference = Inference(pipeline, features, lineage.task)
        rows = [[record[f["name"]] for f in features] for record in records]
        inference_ms = median_ms(lambda: inference.answers(rows))
        os.environ.update(env, TRAFFIC_LOG_DIR="off")  # the service reads its store at import
        os.environ.pop("MODEL_TAG", None)
        path_ms = request_path_ms(package, body)
        print(f"hey, 1-row /predict on 127.0.0.1, {args.seconds:g} s per run, {os.cpu_count()} "
              f"cpus, load average {os.getloadavg()[0]:.2f} at start", flush=True)  # fmt: skip
        for config in configs(root / "traffic"):
            with serving(config, env, hidden) as server:
                url = f"{server}/predict"
                warm = measure(hey_path, config.name, "warm-up", url, body_file, 500, C16)
                runs.append(measure(hey_path, config.name, "c16", url, body_file,
                                    round(warm.req_s * args.seconds), C16))  # fmt: skip
                steady = round(STEADY_RPS * args.seconds), STEADY_CONNECTIONS, STEADY_PER_CONNECTION
                runs.append(measure(hey_path, config.name, "steady", url, body_file, *steady))
                # The same rate on a route that does nothing: the HTTP stack's and machine's share.
                runs.append(measure(hey_path, config.name, "livez", f"{server}/livez", None,
                                    *steady))  # fmt: skip
    results = Results(
        seconds=args.seconds,
        cpus=os.cpu_count() or 0,
        model=lineage.model.type,
        load_average=os.getloadavg(),
        floor_ms=floor,
        inference_ms=inference_ms,
        preprocessing=inference.preprocessing,
        request_path_ms=path_ms,
        runs=runs,
    )
    print(f"model {results.model}; load average {results.load_average[0]:.2f} at the end\n")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(dataclasses.asdict(results), indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
