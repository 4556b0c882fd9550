"""Workers die with the server: SIGKILL of its process group leaves no worker and frees the port."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest
from live import serving

pytestmark = [pytest.mark.service, pytest.mark.slow]


def _children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # exited meanwhile
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:  # gone
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux (/proc, PR_SET_PDEATHSIG)")
def test_sigkill_of_the_server_group_leaves_no_worker(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    with serving(server_env, tmp_path / "serve.log") as server:
        workers = _children(server.process.pid)
        assert workers, "bentoml serve started no worker process"
        assert all(os.getpgid(w) != server.process.pid for w in workers), "own groups, as issued"
        os.killpg(server.process.pid, signal.SIGKILL)  # what a killed `make serve` group gets
        server.process.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        survivors = [w for w in workers if _alive(w)]
        for pid in survivors:  # never leave a failed run's workers serving
            os.kill(pid, signal.SIGKILL)
        assert not survivors, "workers outlived the server"
        with socket.socket() as sock:  # no listener left: the next `make serve` can bind it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
            sock.bind(("127.0.0.1", server.port))
            sock.listen()
