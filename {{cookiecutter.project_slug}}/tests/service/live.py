"""A real `bentoml serve` for tests: started on a free 127.0.0.1 port, in a session of its own.

A module of its own (not conftest.py) so that test modules import it by a name no other folder
shares.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }}.processes import stop_group
from {{ cookiecutter.module_name }}.serving import schema

PACKAGE = schema.__name__.split(".")[0]
ROOT = Path(__file__).resolve().parents[2]

READY_TIMEOUT = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fetch(
    url: str, body: str | bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str]:
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
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[Server]:
    """Run what `make serve` runs on a free 127.0.0.1 port, in a session of its own; stop it."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bentoml", "serve", f"{PACKAGE}.serving.service:Predictor",
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
        stop_group(process, grace=20)
