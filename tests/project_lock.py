"""Re-lock the uv.lock that generated projects ship with (`make project-lock`).

Bakes the default project (which carries the current lock), runs `uv lock` in it (`--upgrade`:
the newest versions the pins allow) and copies the lock back into the template. The template's
tests then install exactly that lock, and every project baked afterwards starts from it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from conftest import PROJECT_TEMPLATE, bake, uv_executable


def relock(upgrade: bool) -> Path:
    """Re-lock the default project and write its lock into the template; return the lock path."""
    shipped = PROJECT_TEMPLATE / "uv.lock"
    with tempfile.TemporaryDirectory(prefix="project-lock-") as tmp:
        project = bake(Path(tmp)).path
        command = [uv_executable(), "lock", *(["--upgrade"] if upgrade else [])]
        subprocess.run(command, cwd=project, check=True)
        shutil.copyfile(project / "uv.lock", shipped)
    return shipped


def main() -> None:
    """Parse the command line and re-lock."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="take the newest allowed versions")
    print(f"wrote {relock(parser.parse_args().upgrade)}")


if __name__ == "__main__":
    main()
