from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sklearn

from {{ cookiecutter.module_name }}.artifacts import sha256_file
from {{ cookiecutter.module_name }}.config import load_params
from {{ cookiecutter.module_name }}.errors import ArtifactError
from {{ cookiecutter.module_name }}.git import state as git_state
from {{ cookiecutter.module_name }}.pipeline.lineage import ensure_current, params_sha256, read_lineage
from {{ cookiecutter.module_name }}.pipeline.train import run_training

pytestmark = pytest.mark.code

TOP_KEYS = {
    "schema_version",
    "project",
    "model_name",
    "started_at",
    "finished_at",
    "git",
    "task",
    "seed",
    "params",
    "params_sha256",
    "data",
    "metrics",
    "packages",
    "model",
}
DATA_KEYS = {
    "path",
    "sha256",
    "rows",
    "columns",
    "train_rows",
    "test_rows",
    "target",
    "features",
    "excluded",
    "classes",
    "dvc",
}


def test_lineage_follows_the_contract(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> None:
    params_file = make_project(base_params(), frame=make_frame(rows=100))
    result = run_training(load_params(params_file), params_file.parent)
    root = params_file.parent
    lineage = json.loads((root / "artifacts" / "lineage.json").read_text(encoding="utf-8"))
    assert lineage == result.lineage.to_json()
    assert set(lineage) == TOP_KEYS
    assert set(lineage["data"]) == DATA_KEYS
    assert lineage["project"] == lineage["model_name"]
    assert lineage["started_at"] <= lineage["finished_at"]
    assert lineage["started_at"].endswith("Z")
    assert lineage["git"] == {"commit": None, "dirty": None}  # tmp_path is not a repository
    assert lineage["task"] == "classification"
    assert lineage["seed"] == 42
    assert lineage["params"] == load_params(params_file).to_dict()
    assert lineage["params_sha256"] == params_sha256(load_params(params_file))
    assert lineage["data"]["sha256"] == sha256_file(root / "data" / "data.csv")
    assert (lineage["data"]["rows"], lineage["data"]["columns"]) == (100, 6)
    assert lineage["data"]["train_rows"] + lineage["data"]["test_rows"] == 100
    assert lineage["data"]["classes"] == ["no", "yes"]
    assert lineage["data"]["dvc"] is None, "the file is not tracked by DVC"
    age = next(f for f in lineage["data"]["features"] if f["name"] == "age")
    assert age["kind"] == "numeric"
    assert age["dtype"] == "float64"
    assert age["min"] <= age["max"]
    assert age["missing"] == 0.0
    metrics = json.loads((root / "artifacts" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics.pop("schema_version") == 1
    assert lineage["metrics"] == metrics, "metrics.json's record, versioned by lineage.json's"
    assert lineage["packages"]["scikit-learn"] == sklearn.__version__
    assert lineage["packages"]["python"].count(".") == 2
    assert lineage["model"] == {
        "path": "artifacts/model.joblib",
        "type": "logistic_regression",
        "sha256": sha256_file(root / "artifacts" / "model.joblib"),
    }


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_commit_and_dirty_flag(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q")
    assert git_state(tmp_path) == {"commit": None, "dirty": None}  # no commit yet
    (tmp_path / "file.txt").write_text("one", encoding="utf-8")
    git("add", "file.txt")
    git("commit", "-q", "-m", "first")
    assert git_state(tmp_path) == {"commit": git("rev-parse", "HEAD"), "dirty": False}
    (tmp_path / "file.txt").write_text("two", encoding="utf-8")
    assert git_state(tmp_path)["dirty"] is True


def test_read_lineage_without_a_run(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"lineage\.json: not found; run `make train` first"):
        read_lineage(tmp_path / "artifacts")


@pytest.fixture
def trained(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> Path:
    """A trained project; returns its params file."""
    params_file = make_project(base_params(), frame=make_frame(rows=100))
    run_training(load_params(params_file), params_file.parent)
    return params_file


def test_ensure_current_accepts_the_params_and_data_it_was_trained_with(trained: Path) -> None:
    root = trained.parent
    lineage = ensure_current(load_params(trained), root, root / "artifacts")
    assert lineage.data.sha256 == sha256_file(root / "data" / "data.csv")


def test_ensure_current_ignores_sections_read_after_training(
    trained: Path, base_params: Callable[..., dict[str, Any]], make_project: Callable[..., Path]
) -> None:
    """Gate thresholds, check settings and monitoring do not change the trained model."""
    root = trained.parent
    changed = base_params(gates={"min_test_accuracy": 0.5}, checks={"sample_size": 500})
    make_project(changed, root=root)
    ensure_current(load_params(trained), root, root / "artifacts")


def test_ensure_current_refuses_changed_params(
    trained: Path, base_params: Callable[..., dict[str, Any]], make_project: Callable[..., Path]
) -> None:
    root = trained.parent
    model = base_params()["model"]
    model["params"]["C"] = 0.5
    make_project(base_params(seed=7, model=model), root=root)
    with pytest.raises(ArtifactError) as error:
        ensure_current(load_params(trained), root, root / "artifacts")
    message = str(error.value)
    assert message.startswith("artifacts/ were trained with other params or data (params ")
    assert "model.params.C" in message
    assert "seed" in message
    assert "data data/" not in message
    assert message.endswith("changed): run `make train`")


def test_ensure_current_refuses_changed_data(trained: Path, make_frame: Callable[..., Any]) -> None:
    root = trained.parent
    make_frame(rows=100, seed=5).to_csv(root / "data" / "data.csv", index=False)
    with pytest.raises(ArtifactError, match=r"\(data data/data\.csv changed\): run `make train`$"):
        ensure_current(load_params(trained), root, root / "artifacts")


def test_params_fingerprint_covers_the_training_sections_only(
    base_params: Callable[..., dict[str, Any]],
) -> None:
    from {{ cookiecutter.module_name }}.config import parse_params

    base = params_sha256(parse_params(base_params()))
    assert base == params_sha256(parse_params(base_params(gates={"min_test_accuracy": 0.5})))
    assert base != params_sha256(parse_params(base_params(seed=7)))
    assert base != params_sha256(parse_params(base_params(data={"test_size": 0.3})))


def test_ensure_current_refuses_a_model_replaced_after_training(trained: Path) -> None:
    root = trained.parent
    (root / "artifacts" / "model.joblib").write_bytes(b"another model")
    with pytest.raises(
        ArtifactError, match=r"model\.joblib is not the model lineage\.json records"
    ):
        ensure_current(load_params(trained), root, root / "artifacts")


def test_ensure_current_without_a_training_run_says_to_train(
    make_project: Callable[..., Path], base_params: Callable[..., dict[str, Any]]
) -> None:
    params_file = make_project(base_params())
    root = params_file.parent
    with pytest.raises(ArtifactError, match=r"lineage\.json not found: run `make train` first"):
        ensure_current(load_params(params_file), root, root / "artifacts")


def test_a_lineage_record_of_a_newer_schema_is_refused_in_one_line(trained: Path) -> None:
    root = trained.parent
    path = root / "artifacts" / "lineage.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["schema_version"] == 1
    path.write_text(json.dumps(record | {"schema_version": 2}), encoding="utf-8")
    with pytest.raises(
        ArtifactError, match=r"schema_version 2 is newer than this project reads"
    ) as caught:
        ensure_current(load_params(trained), root, root / "artifacts")
    assert "\n" not in str(caught.value)
