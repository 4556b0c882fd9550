"""Fixtures of the service tests: the trained model saved into a temporary BentoML store.

The model and lineage record are the real ``artifacts/`` written by ``make train`` (``make test``
and ``make test-service`` train first). The BentoML store is a fresh temporary directory, so the
tests never read or write ``bentoml_home/`` or ``~/bentoml``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import pytest

from {{ cookiecutter.module_name }} import bento

PACKAGE = bento.__name__.rpartition(".")[0]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    for name in ("model.joblib", "lineage.json"):
        if not (ARTIFACTS / name).is_file():
            pytest.fail(f"{ARTIFACTS / name} is missing: run `make train` (make test does)")
    return ARTIFACTS


@pytest.fixture(scope="session")
def lineage(artifacts_dir: Path) -> dict[str, Any]:
    return json.loads((artifacts_dir / "lineage.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def pipeline(artifacts_dir: Path) -> Any:
    return joblib.load(artifacts_dir / "model.joblib")


@pytest.fixture(scope="session")
def bentoml_home(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[Path]:
    """A temporary BENTOML_HOME holding the trained model, saved the way `make bento` does."""
    home = tmp_path_factory.mktemp("bentoml_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENTOML_HOME", str(home))
        patch.setenv("BENTOML_DO_NOT_TRACK", "true")
        patch.delenv("MODEL_TAG", raising=False)
        tag = bento.save_model(artifacts_dir)
        if not (home / "models" / tag.split(":")[0]).is_dir():  # BentoML reads the variable once
            pytest.fail("BentoML's store was set up before BENTOML_HOME pointed to a temp dir")
        yield home


@pytest.fixture(scope="session")
def service(bentoml_home: Path) -> ModuleType:
    """The service module, imported once the store holds the model (it reads it at import)."""
    return importlib.import_module(f"{PACKAGE}.service")


@pytest.fixture(scope="session")
def predictor(service: ModuleType) -> Any:
    return service.Predictor()


@pytest.fixture(scope="session")
def client(service: ModuleType) -> Iterator[Any]:
    """An HTTP client of the service's ASGI app, in process (no socket)."""
    from starlette.testclient import TestClient

    with TestClient(service.Predictor.to_asgi(), raise_server_exceptions=False) as http:
        yield http


@pytest.fixture(scope="session")
def server_env(bentoml_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(BENTOML_HOME=str(bentoml_home), BENTOML_DO_NOT_TRACK="true")
    env.pop("MODEL_TAG", None)
    return env


READY_TIMEOUT = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, body: str | bytes | None = None, headers: dict[str, str] | None = None):
    """GET (no body) or POST ``url``; return ``(status, text)`` whatever the status."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")  # noqa: S310 - loopback URL
    for key, value in (headers or {"content-type": "application/json"}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback URL
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@dataclass(frozen=True)
class Server:
    """A running `bentoml serve`: its base URL, process (a group leader) and log file."""

    url: str
    port: int
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def stop(process: subprocess.Popen) -> None:
    """Stop the server and its workers: signal the process group, wait, then kill it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # anything left in its group
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[Server]:
    """Run what `make serve` runs on a free 127.0.0.1 port, in a session of its own; stop it."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bentoml", "serve", f"{PACKAGE}.service:Predictor",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", port, process, log)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"bentoml serve exited: {server.log_text()[-2000:]}")
            with contextlib.suppress(OSError):
                if fetch(f"{server.url}/readyz")[0] == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"not ready in {READY_TIMEOUT} s")
            time.sleep(0.25)
        yield server
    finally:
        stop(process)


@pytest.fixture(scope="module")
def server(
    server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One real server per test module that asks for it."""
    with serving(server_env, tmp_path_factory.mktemp("serve") / "serve.log") as running:
        yield running
