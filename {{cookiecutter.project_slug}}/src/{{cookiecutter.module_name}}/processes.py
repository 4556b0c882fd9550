"""Process groups: the signals that stop a command, and stopping a group with all it started.

A command that starts servers or builds (the report's base build, a test's or benchmark's
server) runs them in a process group of their own, so that one signal reaches every process
they started (make, uv, workers), and nothing outlives them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

# The signals that stop a command: the CLI turns them into a clean unwind (errors.Interrupted).
STOPPING_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


def stop_group(
    process: subprocess.Popen[bytes] | subprocess.Popen[str], grace: float = 10.0
) -> None:
    """Stop the process group led by ``process``: SIGTERM, SIGKILL after ``grace`` seconds.

    Whatever is left in the group once its leader has exited (a worker that ignored SIGTERM)
    is killed too.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
