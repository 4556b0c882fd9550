from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError
from pathlib import Path

import pytest

import {{ cookiecutter.module_name }} as package
from {{ cookiecutter.module_name }}.cli import COMMANDS, main

pytestmark = pytest.mark.code

PACKAGE = package.__name__


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", PACKAGE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_help_lists_every_command_and_starts_fast() -> None:
    started = time.perf_counter()
    result = _cli("--help")
    elapsed = time.perf_counter() - started
    assert result.returncode == 0
    for command in COMMANDS:
        assert command.name in result.stdout
    assert elapsed < 5  # heavy libraries are imported by commands, not by the CLI module


def test_help_imports_no_heavy_library() -> None:
    code = (
        f"import sys; from {PACKAGE} import cli; cli.build_parser();"
        "print(sorted(m for m in ('pandas', 'sklearn', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version() -> None:
    result = _cli("--version")
    assert result.returncode == 0
    assert package.__version__ in result.stdout


def test_config_error_exits_2_with_one_line(tmp_path: Path, make_project, base_params) -> None:
    make_project(base_params(data={"test_size": 1.5}))
    result = _cli("train", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: params.yaml: data.test_size: must be > 0 and < 1 (got 1.5)\n"
    assert not (tmp_path / "artifacts").exists()


def test_data_error_exits_2(make_project, base_params, capsys) -> None:
    params_file = make_project(base_params(), csv_text="")
    assert main(["train", "--params", str(params_file)]) == 2
    assert capsys.readouterr().err == "error: data/data.csv: file is empty\n"
    assert not (params_file.parent / "artifacts" / "model.joblib").exists()


def test_data_train_lineage_in_process(tmp_path: Path, make_project, base_params, capsys) -> None:
    params_file = make_project(base_params("regression", data={"path": "data/diabetes.csv"}))
    assert main(["data", "--params", str(params_file)]) == 0
    assert "wrote the regression sample dataset" in capsys.readouterr().out
    assert main(["data", "--params", str(params_file)]) == 0
    assert "exists; left untouched" in capsys.readouterr().out
    assert main(["train", "--params", str(params_file)]) == 0
    out = capsys.readouterr().out
    assert "[train] fitting ridge" in out
    assert "[train] test metrics: rmse" in out
    assert main(["lineage", "--params", str(params_file)]) == 0
    lineage = json.loads(capsys.readouterr().out)
    assert lineage["data"]["rows"] == 442
    assert lineage["model"]["type"] == "ridge"


def test_lineage_before_training_is_an_error(
    tmp_path: Path, make_project, base_params, capsys
) -> None:
    params_file = make_project(base_params())
    assert main(["lineage", "--params", str(params_file)]) == 2
    assert "error: " in capsys.readouterr().err


def test_unknown_command_is_a_usage_error() -> None:
    result = _cli("fly")
    assert result.returncode == 2
    assert "invalid choice: 'fly'" in result.stderr


def test_distribution_name_when_it_differs_from_the_package(monkeypatch) -> None:
    expected = package.distribution_name()

    def not_found(name: str) -> None:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(package, "distribution", not_found)  # as if slug != package name
    assert package.distribution_name() == expected
