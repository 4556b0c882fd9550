"""The documentation site builds without warnings, and its diagrams parse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import PROJECT_TEMPLATE, TEMPLATE, mermaid_blocks, parse_mermaid


def test_docs_build_strict(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).parent / "mkdocs"
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "options" / "index.html").exists()


def test_every_diagram_of_the_docs_parses() -> None:
    pages = [*sorted((TEMPLATE / "docs").glob("*.md")), PROJECT_TEMPLATE / "README.md"]
    diagrams = [(page.name, block) for page in pages for block in mermaid_blocks(page.read_text())]
    assert len(diagrams) >= 2, "architecture.md and the generated README draw the packages"
    results = parse_mermaid([block for _, block in diagrams])
    checked = zip(diagrams, results, strict=True)
    failed = [(name, result) for (name, _), result in checked if not result["ok"]]
    assert not failed, failed
