"""Drift monitoring for real: a trained model, example batches and deepchecks runs (slow)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from {{ cookiecutter.module_name }} import cli
from {{ cookiecutter.module_name }}.config import load_params
from {{ cookiecutter.module_name }}.layout import MONITOR_HTML, MONITOR_JSON, MONITOR_MD
from {{ cookiecutter.module_name }}.monitoring import monitor
from {{ cookiecutter.module_name }}.monitoring.example_batches import write_batches
from {{ cookiecutter.module_name }}.pipeline.train import run_training

pytestmark = [pytest.mark.code, pytest.mark.slow]


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> Path:
    """A trained project (mixed synthetic data, 400 rows) with its example batches."""
    root = tmp_path_factory.mktemp("monitored")
    params = base_params()
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    (root / "data").mkdir()
    make_frame(rows=400, seed=7).to_csv(root / params["data"]["path"], index=False)
    loaded = load_params(root / "params.yaml")
    run_training(loaded, root)
    write_batches(loaded, root, root / "data" / "batches", rows=200)
    return root / "params.yaml"


def _check(project: Path, current: str, *extra: str) -> int:
    return cli.main(["monitor", "--params", str(project), "--current", current, *extra])


def _summary(project: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((project.parent / "artifacts" / MONITOR_JSON).read_text())
    return summary


def test_the_stable_batch_passes(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _check(project, "data/batches/stable.csv") == 0
    summary = _summary(project)
    assert summary["verdict"] == "stable"
    assert all(gate["passed"] for gate in summary["gates"]), summary["gates"]
    assert summary["drifted_features"] == []
    assert not summary["retrain"]
    assert "verdict: stable" in capsys.readouterr().out
    artifacts = project.parent / "artifacts"
    html = artifacts / MONITOR_HTML
    assert 10_000 < html.stat().st_size < 2_000_000, "a moderate, self-describing report"
    assert (artifacts / MONITOR_MD).read_text().startswith("## Drift monitoring: ✅")
    assert not list(artifacts.glob(".staging-*")), "no staging leftovers"


def test_the_drifted_batch_is_flagged_with_the_shifted_features_named(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _check(project, "data/batches/drifted.csv") == monitor.EXIT_DRIFT
    summary = _summary(project)
    assert summary["verdict"] == "drift"
    assert sorted(summary["drifted_features"]) == ["age", "income", "visits"]
    feature_gate = next(g for g in summary["gates"] if g["name"] == "feature_drift")
    assert not feature_gate["passed"]
    assert "age" in feature_gate["detail"]
    assert summary["retrain"], "labelled and drifted: retraining is recommended"
    out = capsys.readouterr().out
    assert "drifted features: " in out
    assert "verdict: drift" in out


def test_exit_zero_reports_the_verdict_as_step_outputs(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs, step_summary = tmp_path / "outputs", tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    assert _check(project, "data/batches/drifted.csv", "--exit-zero", "--github-output") == 0
    lines = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert lines["verdict"] == "drift"
    assert lines["retrain"] == "true"
    assert set(lines["drifted_features"].split(",")) == {"age", "income", "visits"}
    assert "| feature_drift |" in step_summary.read_text()


def test_an_unlabelled_batch_skips_label_drift_and_never_asks_for_retraining(project: Path) -> None:
    root = project.parent
    drifted = root / "data" / "batches" / "drifted.csv"
    unlabelled = root / "unlabelled.csv"
    unlabelled.write_text(
        "\n".join(
            ",".join(cells[:-1])
            for cells in (line.split(",") for line in drifted.read_text().splitlines())
        )
        + "\n"
    )
    assert _check(project, "unlabelled.csv") == monitor.EXIT_DRIFT
    summary = _summary(project)
    assert summary["skipped"][0]["name"] == "label_drift"
    assert "label_drift" not in {g["name"] for g in summary["gates"]}
    assert not summary["batch"]["labelled"]
    assert not summary["retrain"]


def test_new_categories_and_missing_values_make_a_bad_batch(
    project: Path, make_frame: Callable[..., Any]
) -> None:
    root = project.parent
    frame = make_frame(rows=120, seed=11)
    frame.loc[:19, "city"] = "marseille"
    frame.loc[:29, "income"] = None
    frame.to_csv(root / "broken.csv", index=False)
    assert _check(project, "broken.csv") == monitor.EXIT_DRIFT
    summary = _summary(project)
    gates = {g["name"]: g for g in summary["gates"]}
    assert summary["verdict"] == "bad-batch"
    assert not gates["new_category_ratio"]["passed"]
    assert "city: marseille" in gates["new_category_ratio"]["detail"]
    assert gates["null_ratio"]["value"] == pytest.approx(0.25, abs=0.01)
    assert not summary["retrain"], "a broken batch is not training data"
