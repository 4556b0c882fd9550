"""The project's GTO settings (.gto): the stages, as GTO itself enforces them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from gto.api import assign, register
from gto.config import CONFIG_FILE_NAME, read_registry_config
from gto.exceptions import UnknownStage

from {{ cookiecutter.module_name }}.release import registry

pytestmark = pytest.mark.code

PROJECT = Path(__file__).resolve().parents[2]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_the_project_ships_the_stages_its_deploy_overlays_and_workflows_use() -> None:
    config = read_registry_config(str(PROJECT / CONFIG_FILE_NAME))
    assert registry.stages(PROJECT) == tuple(config.stages or ()) == ("staging", "prod")


def test_gto_refuses_a_stage_the_config_does_not_list(tmp_path: Path) -> None:
    git(tmp_path, "init", "--quiet", "-b", "main")
    git(tmp_path, "config", "user.name", "Test")
    git(tmp_path, "config", "user.email", "test@example.com")
    (tmp_path / CONFIG_FILE_NAME).write_bytes((PROJECT / CONFIG_FILE_NAME).read_bytes())
    git(tmp_path, "add", CONFIG_FILE_NAME)
    git(tmp_path, "commit", "--quiet", "-m", "gto config")
    register(tmp_path, "model", ref="HEAD", version="v0.1.0")
    with pytest.raises(UnknownStage, match="Allowed stages are"):
        assign(tmp_path, "model", stage="qa", version="v0.1.0")
    assign(tmp_path, "model", stage="prod", version="v0.1.0")
    tags = subprocess.run(["git", "tag"], cwd=tmp_path, capture_output=True, text=True).stdout
    assert tags.split() == ["model#prod#1", "model@v0.1.0"]
