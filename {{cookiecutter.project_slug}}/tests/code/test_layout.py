"""Every command finds the artifacts where ``--artifacts`` puts them (release included)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.module_name }}.artifacts import sha256_file
from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.config import load_params
from {{ cookiecutter.module_name }}.errors import ReleaseError
from {{ cookiecutter.module_name }}.layout import DEFAULT_DIR, ArtifactLayout
from {{ cookiecutter.module_name }}.release.guards import ensure_gates_passed

pytestmark = pytest.mark.code

ELSEWHERE = "runs/first"


@pytest.fixture
def trained_elsewhere(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> Path:
    """A project trained into ``runs/first`` (not ``artifacts/``); returns its params file."""
    params_file = make_project(base_params(), frame=make_frame(rows=120))
    (params_file.parent / "pyproject.toml").write_text(
        '[project]\nname = "layout-demo"\ndescription = "A model trained elsewhere."\n'
    )
    args = ["--params", str(params_file), "--artifacts", ELSEWHERE]
    assert main(["train", *args]) == 0
    return params_file


def test_release_reads_the_artifacts_that_artifacts_names(
    trained_elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = trained_elsewhere.parent
    layout = ArtifactLayout(root / ELSEWHERE)
    assert layout.model.is_file()
    assert not (root / DEFAULT_DIR).exists()
    params = ["--params", str(trained_elsewhere)]
    assert main(["release", *params, "--artifacts", ELSEWHERE, "model-card"]) == 0
    card = layout.model_card.read_text(encoding="utf-8")
    assert f"sha256 `{sha256_file(root / 'data' / 'data.csv')}`" in card
    # Without --artifacts the release commands read artifacts/, which has no run here.
    capsys.readouterr()
    assert main(["release", *params, "model-card"]) == 2
    assert f"{DEFAULT_DIR}/lineage.json" in capsys.readouterr().err
    # register's gate guard names the gate record of that folder, not of artifacts/.
    with pytest.raises(ReleaseError, match=rf"^{ELSEWHERE}/checks\.json not found"):
        ensure_gates_passed(root, "0" * 40, load_params(trained_elsewhere), layout)
