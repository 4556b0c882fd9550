from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from typing import Any

import pytest
import yaml

import {{ cookiecutter.module_name }} as package
from {{ cookiecutter.module_name }}.cli import COMMANDS, main, write_github_output

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


def test_config_error_exits_2_with_one_line(
    tmp_path: Path, make_project: Callable[..., Path], base_params: Callable[..., dict[str, Any]]
) -> None:
    make_project(base_params(data={"test_size": 1.5}))
    result = _cli("train", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: params.yaml: data.test_size: must be > 0 and < 1 (got 1.5)\n"
    assert not (tmp_path / "artifacts").exists()


def test_data_error_exits_2(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    params_file = make_project(base_params(), csv_text="")
    assert main(["train", "--params", str(params_file)]) == 2
    assert capsys.readouterr().err == "error: data/data.csv: file is empty\n"
    assert not (params_file.parent / "artifacts" / "model.joblib").exists()


def test_data_train_lineage_in_process(
    tmp_path: Path,
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    params_file = make_project(base_params("regression", data={"path": "data/diabetes.csv"}))
    assert main(["data", "--params", str(params_file)]) == 0
    assert "written: the bundled regression sample" in capsys.readouterr().out
    assert main(["data", "--params", str(params_file)]) == 0
    assert "exists (not tracked by DVC" in capsys.readouterr().out
    assert main(["train", "--params", str(params_file)]) == 0
    out = capsys.readouterr().out
    assert "[train] fitting ridge" in out
    assert "[train] test metrics: rmse" in out
    assert main(["lineage", "--params", str(params_file)]) == 0
    lineage = json.loads(capsys.readouterr().out)
    assert lineage["data"]["rows"] == 442
    assert lineage["model"]["type"] == "ridge"


def test_lineage_before_training_is_an_error(
    tmp_path: Path,
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    params_file = make_project(base_params())
    assert main(["lineage", "--params", str(params_file)]) == 2
    assert "error: " in capsys.readouterr().err


def test_unknown_command_is_a_usage_error() -> None:
    result = _cli("fly")
    assert result.returncode == 2
    assert "invalid choice: 'fly'" in result.stderr


def test_distribution_name_when_it_differs_from_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = package.distribution_name()

    def not_found(name: str) -> None:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(package, "distribution", not_found)  # as if slug != package name
    assert package.distribution_name() == expected


#: Every option whose value can come from outside (a tag, a workflow input, a make variable).
OUTSIDE_OPTIONS = {
    "check-ref tag": ["release", "check-ref", "--", "{}"],
    "check-ref default branch": ["release", "check-ref", "--default-branch={}", "--", "m@v0.1.0"],
    "promote stage": ["release", "promote", "--version=v0.1.0", "--stage={}"],
    "promote version": ["release", "promote", "--version={}", "--stage=prod"],
    "rollback stage": ["release", "rollback", "--stage={}"],
    "deploy stage": ["release", "deploy", "--stage={}", "--dry-run"],
    "deploy version": ["release", "deploy", "--stage=staging", "--version={}", "--dry-run"],
    "register version": ["release", "register", "--version={}"],
    "register bump": ["release", "register", "--bump={}"],
    "publish version": ["release", "publish", "--version={}", "--dry-run"],
    "publish-image image": ["release", "publish-image", "--image={}", "--tag=t", "--bento=b:1"],
    "publish-image tag": ["release", "publish-image", "--image=a.io/b/c", "--tag={}", "--bento=b"],
    "report base": ["report", "--base={}"],
    "monitor batch": ["monitor", "--current={}"],
    "retrain batch": ["retrain", "--current={}"],
}


@pytest.mark.parametrize("option", OUTSIDE_OPTIONS.values(), ids=OUTSIDE_OPTIONS.keys())
def test_outside_values_are_refused_with_one_line_and_run_nothing(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
    hostile: Callable[[Path], dict[str, str]],
    option: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    params_file = make_project(base_params(), frame=make_frame(rows=60))
    canary = tmp_path / "canary"
    for name, value in hostile(canary).items():
        argv = [*option[:1], "--params", str(params_file), *option[1:]]
        try:
            code: int | str | None = main([part.replace("{}", value) for part in argv])
        except SystemExit as exit_:  # a usage error (e.g. not one of the choices)
            code = exit_.code
        err = capsys.readouterr().err
        assert code == 2, (name, err)
        assert err.startswith("error: "), (name, err)
        assert err.count("\n") == 1, (name, err)
        assert not canary.exists(), name


def test_make_data_writes_nothing_outside_the_project(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """data.path: ../outside/... once made `make data` create folders and a file there."""
    root = tmp_path / "project"
    params_file = make_project(base_params(), root=root)
    params_file.write_text(yaml.safe_dump(base_params(data={"path": "../outside/passwd"})))
    assert main(["data", "--params", str(params_file)]) == 2
    assert "data.path '../outside/passwd' resolves to" in capsys.readouterr().err
    assert not (tmp_path / "outside").exists()


@pytest.mark.parametrize("option", [["--artifacts", "../elsewhere"], ["--out", "/"]])
def test_outputs_stay_inside_the_project(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    option: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    params_file = make_project(base_params())
    command = "batches" if option[0] == "--out" else "train"
    assert main([command, "--params", str(params_file), *option]) == 2
    assert "outside the project" in capsys.readouterr().err


def test_no_value_can_add_a_step_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A value with a line break is written in GitHub's delimited form: it stays one value."""
    out = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    write_github_output({"drifted_features": "age\nretrain=true", "verdict": "drift"})
    text = out.read_text()
    found = re.match(r"drifted_features<<(ghadelimiter_[0-9a-f]{32})\n", text)
    assert found, text
    delimiter = found.group(1)
    assert text == (
        f"drifted_features<<{delimiter}\nage\nretrain=true\n{delimiter}\nverdict=drift\n"
    )


def test_usage_errors_are_one_line_too() -> None:
    result = _cli("release", "promote", "--stage")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: argument --stage: expected one argument")
