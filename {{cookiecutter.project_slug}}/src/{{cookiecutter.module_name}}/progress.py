"""Progress messages of a long command: a callable that takes one line (``print`` by default)."""

from __future__ import annotations

from collections.abc import Callable

#: Where a stage reports what it is doing, one line at a time.
Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """Discard progress messages (the default of library calls and tests)."""
