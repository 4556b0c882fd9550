"""One real `bentoml serve` on 127.0.0.1: readiness, valid and invalid requests, clean stop."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }} import schema

pytestmark = [pytest.mark.service, pytest.mark.slow]

PACKAGE = schema.__name__.rpartition(".")[0]
READY_TIMEOUT = 90


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url, body=None):
    data = body.encode() if isinstance(body, str) else body
    method = "POST" if data is not None else "GET"
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback URL
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback URL
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _stop(process):
    """Stop the server and its workers: signal the process group, wait, then kill it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # workers left behind share its group
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def server(server_env, tmp_path: Path):
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bentoml", "serve", f"{PACKAGE}.service:Predictor",
         "--host", "127.0.0.1", "--port", str(port)],
        env=server_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"bentoml serve exited: {(tmp_path / 'serve.log').read_text()[-2000:]}")
            try:
                if _request(f"{url}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"not ready in {READY_TIMEOUT} s")
            time.sleep(0.25)
        yield url
    finally:
        _stop(process)
        log.close()


def test_real_server(server, service, pipeline, lineage):
    import pandas as pd

    body = json.dumps({"records": service.EXAMPLE_RECORDS * 4})
    status, text = _request(f"{server}/predict", body)
    assert status == 200, text
    frame = pd.DataFrame(
        service.EXAMPLE_RECORDS * 4, columns=[f["name"] for f in lineage["data"]["features"]]
    )
    assert [p["prediction"] for p in json.loads(text)] == pytest.approx(
        pipeline.predict(frame).tolist()
    )
    status, text = _request(f"{server}/metadata", "{}")
    assert status == 200
    assert json.loads(text)["lineage"] == lineage
    for bad in ['{"records": []}', '{"records": [{"x": 1}]}', '{"records": [', "null"]:
        status, text = _request(f"{server}/predict", bad)
        assert status == 400, (bad, status, text)
        assert json.loads(text)["error"]
    assert _request(f"{server}/livez")[0] == 200
    status, text = _request(f"{server}/metrics")
    assert status == 200
    assert "bentoml_service_request_total" in text
