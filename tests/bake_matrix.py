"""Bake every combination of the test option matrix into a directory (for actionlint in CI)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from conftest import bake, combo_id, option_matrix


def main(output: Path) -> None:
    """Bake each combination into ``output/<combination id>/<project slug>``."""
    shutil.rmtree(output, ignore_errors=True)
    for combo in option_matrix():
        baked = bake(output / combo_id(combo), **combo)
        print(baked.path)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "build/matrix"))
