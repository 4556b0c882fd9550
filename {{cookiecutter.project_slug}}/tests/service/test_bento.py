"""The bento: its Python environment comes from uv.lock, and a failed build leaves no model."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import bentoml
import pytest
from packaging.requirements import Requirement

from {{ cookiecutter.module_name }}.errors import ArtifactError
from {{ cookiecutter.module_name }}.records import Lineage
from {{ cookiecutter.module_name }}.serving import bento

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (tomli comes with bentoml there)
    import tomli as tomllib

pytestmark = pytest.mark.service

ROOT = Path(__file__).resolve().parents[2]


def locked_versions() -> dict[str, set[str]]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    versions: dict[str, set[str]] = {}
    for package in lock["package"]:
        versions.setdefault(package["name"], set()).add(package.get("version", ""))
    return versions


def test_the_bento_installs_the_serve_group_at_the_locked_versions() -> None:
    requirements = [Requirement(line) for line in bento.serving_requirements(ROOT)]
    locked = locked_versions()
    for requirement in requirements:
        (pin,) = requirement.specifier
        assert pin.operator == "=="
        assert pin.version in locked[requirement.name], requirement
    names = {r.name for r in requirements}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert set(pyproject["dependency-groups"][bento.SERVE_GROUP]) <= names
    assert not names & {"deepchecks", "pytest", "ruff", "gto"}, "training and dev tools stay out"


def test_the_bento_refuses_versions_the_model_was_not_trained_with() -> None:
    message = re.escape("trained with scikit-learn 0.1 but uv.lock pins ==")
    with pytest.raises(ArtifactError, match=message):
        bento.serving_requirements(ROOT, {"scikit-learn": "0.1"})


def test_a_failed_build_takes_the_saved_model_out_of_the_store(
    bentoml_home: Path, artifacts_dir: Path, lineage: dict[str, Any], tmp_path: Path
) -> None:
    before = {str(model.tag) for model in bentoml.models.list()}
    broken = tmp_path / "bentofile.yaml"
    broken.write_text('service: "no_such_module.service:Nothing"\n', encoding="utf-8")
    with pytest.raises(bentoml.exceptions.BentoMLException):
        bento.save_and_build(artifacts_dir, broken, tmp_path, ROOT, Lineage.model_validate(lineage))
    assert {str(model.tag) for model in bentoml.models.list()} == before
