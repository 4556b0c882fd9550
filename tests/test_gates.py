"""Quality gates end to end: `make check` in baked projects of both tasks, for real.

On the bundled data every gate passes; deliberately broken data and a deliberately weak model
fail exactly the gates that measure what was broken, under their documented names. One install
per task; the scenarios edit the data or params.yaml of the same project and restore them.
"""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from conftest import Baked, bake

pytestmark = pytest.mark.e2e

DATA_GATES = {
    "max_missing_share",
    "max_duplicate_share",
    "max_feature_label_pps",
    "max_train_test_duplicates_share",
    "max_feature_drift",
    "max_label_drift",
}
MODEL_GATES = {"max_train_test_gap", "min_gain_over_simple_model", "max_prediction_drift"}
#: Every gate `make check` lists on the bundled data (max_new_category_share is skipped: the
#: bundled datasets have no categorical column).
EXPECTED_GATES = {
    "classification": DATA_GATES
    | MODEL_GATES
    | {
        "max_conflicting_labels_share",
        "max_new_label_share",
        "min_test_roc_auc",
        "min_test_accuracy",
        "max_brier_score",
    },
    "regression": DATA_GATES
    | MODEL_GATES
    | {"min_test_r2", "max_test_rmse", "max_systematic_error_ratio"},
}
DATA_FILES = {"classification": "data/breast_cancer.csv", "regression": "data/diabetes.csv"}


def installed(tmp_path_factory: pytest.TempPathFactory, task: str, **options: object) -> Baked:
    project = bake(tmp_path_factory.mktemp(f"gates-{task}"), task=task, **options)
    project.run("make", "install")
    return project


@pytest.fixture(scope="module")
def classification(tmp_path_factory: pytest.TempPathFactory) -> Baked:
    """The classification project, a git repository: a version is a commit."""
    return installed(tmp_path_factory, "classification", git_init=True)


@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory) -> Baked:
    return installed(tmp_path_factory, "regression")


def summary(project: Baked) -> dict:
    return json.loads((project.path / "artifacts" / "checks.json").read_text())


def failed_gates(project: Baked) -> set[str]:
    return {gate["name"] for gate in summary(project)["gates"] if not gate["passed"]}


def check_cli(project: Baked) -> int:
    """`python -m <module> check` without retraining (for changes to gate thresholds only)."""
    module = project.context["module_name"]
    result = project.run("uv", "run", "--locked", "python", "-m", module, "check", check=False)
    assert result.returncode in (0, 1), result.stderr[-3000:]
    return result.returncode


def assert_every_gate_passes(project: Baked, task: str, *, connected: bool = True) -> None:
    checks = summary(project)
    assert checks["passed"] is True, [g for g in checks["gates"] if not g["passed"]]
    assert {gate["name"] for gate in checks["gates"]} == EXPECTED_GATES[task]
    assert [s["name"] for s in checks["skipped"]] == ["max_new_category_share"]
    for gate in checks["gates"]:
        assert set(gate) == {"name", "suite", "value", "threshold", "passed", "detail"}
    html = project.path / "artifacts" / "checks.html"
    assert checks["html_connected"] is connected
    if connected:
        assert 10_000 < html.stat().st_size < 1_000_000, "checks.html: moderate size (CDN scripts)"
    else:
        assert_renders_offline(html)
    page = html.read_text(encoding="utf-8")
    for gate in checks["gates"]:  # the page opens with each gate's value, threshold and result
        assert f"<td>{gate['name']}</td>" in page


def assert_renders_offline(html: Path) -> None:
    """Headless Chromium with every network request refused draws the page's plotly charts."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package `chromium`)")
    dom = subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--proxy-server=127.0.0.1:9",  # nothing listens there: no request gets out
            "--virtual-time-budget=20000", "--dump-dom", html.as_uri(),
        ],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Quality gates:" in dom.stdout
    assert 'class="main-svg"' in dom.stdout, "plotly drew no chart without the network"


@contextmanager
def edited(path: Path, text: str) -> Iterator[None]:
    """Replace a file's content for the duration of the block."""
    original = path.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    try:
        yield
    finally:
        path.write_text(original, encoding="utf-8")


def with_gates(project: Baked, **thresholds: float) -> str:
    params = yaml.safe_load((project.path / "params.yaml").read_text(encoding="utf-8"))
    params["gates"].update(thresholds)
    return yaml.safe_dump(params, sort_keys=False)


def csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    header, *rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    return header, rows


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


def test_classification_bundled_data_passes_every_gate(classification: Baked) -> None:
    result = classification.run("make", "check")
    assert "PASSED: all 14 gates" in result.stdout
    assert_every_gate_passes(classification, "classification")


def test_a_version_is_never_registered_with_the_gates_of_another_model(
    classification: Baked,
) -> None:
    """Train and check, spoil the labels, train again, register: it was tagged `gates: passed`."""
    project = classification
    if not (project.path / "artifacts" / "checks.json").exists() or not summary(project)["passed"]:
        project.run("make", "check")  # run alone
    data = project.path / DATA_FILES["classification"]
    header, rows = csv_rows(data)
    target = header.index("target")
    noise = random.Random(0)
    spoiled = [
        [*row[:target], str(1 - int(row[target])), *row[target + 1 :]]
        if noise.random() < 0.3
        else row
        for row in rows
    ]
    with edited(data, csv_text(header, spoiled)):
        project.run("make", "train")
        result = project.run("make", "register", "PUSH=0", check=False)
    assert result.returncode != 0
    assert (
        "error: artifacts/checks.json is not the gate record of the current model "
        "(model, data differ): run `make check`"
    ) in result.stderr
    assert project.run("git", "tag", "--list").stdout == "", "no version was registered"


def test_duplicated_rows_and_a_leaking_feature_fail_exactly_their_gates(
    classification: Baked,
) -> None:
    data = classification.path / DATA_FILES["classification"]
    classification.run("make", "data")
    header, rows = csv_rows(data)
    target = header.index("target")
    # Every row twice (so copies land in both train and test), plus a copy of the target.
    broken = csv_text([*header, "leak"], [[*row, row[target]] for row in rows + rows])
    with edited(data, broken):
        result = classification.run("make", "check", check=False)
    assert result.returncode != 0
    assert "check] Error 1" in result.stderr, "the CLI exits 1 when a gate fails"
    assert failed_gates(classification) == {
        "max_duplicate_share",
        "max_train_test_duplicates_share",
        "max_feature_label_pps",
    }
    leak = next(g for g in summary(classification)["gates"] if g["name"] == "max_feature_label_pps")
    assert leak["value"] == 1.0
    assert "leak" in leak["detail"]


def test_label_noise_and_an_unreachable_metric_fail_exactly_their_gates(
    classification: Baked,
) -> None:
    data, params = (
        classification.path / DATA_FILES["classification"],
        classification.path / "params.yaml",
    )
    classification.run("make", "data")
    header, rows = csv_rows(data)
    target = header.index("target")
    # Label noise: six rows repeated with the other label (identical features, two labels).
    flipped = [[*row[:target], str(1 - int(row[target])), *row[target + 1 :]] for row in rows[:6]]
    # A weak model for this threshold: the default model reaches a test roc_auc of 0.995.
    with (
        edited(data, csv_text(header, rows + flipped)),
        edited(params, with_gates(classification, min_test_roc_auc=0.999)),
    ):
        result = classification.run("make", "check", check=False)
    assert result.returncode != 0
    assert failed_gates(classification) == {"max_conflicting_labels_share", "min_test_roc_auc"}
    assert not list((classification.path / "artifacts").glob("checks (*"))  # html overwritten


def test_regression_data_tests_run_on_a_fresh_checkout(regression: Baked) -> None:
    assert not (regression.path / DATA_FILES["regression"]).exists()
    result = regression.run("make", "test-data")
    assert " passed" in result.stdout
    assert not (regression.path / "artifacts" / "model.joblib").exists(), "no training needed"


def test_regression_bundled_data_passes_every_gate(regression: Baked) -> None:
    """This project writes the self-contained checks.html (the classification one: connected)."""
    params = regression.path / "params.yaml"
    offline = yaml.safe_load(params.read_text(encoding="utf-8"))
    offline["checks"]["html_connected"] = False
    with edited(params, yaml.safe_dump(offline, sort_keys=False)):
        result = regression.run("make", "check")
    assert "PASSED: all 12 gates" in result.stdout
    assert_every_gate_passes(regression, "regression", connected=False)


def test_regression_weak_model_fails_exactly_the_test_metric_gate(regression: Baked) -> None:
    params = regression.path / "params.yaml"
    if not (regression.path / "artifacts" / "model.joblib").exists():  # run alone
        regression.run("make", "train")
    # The default ridge model reaches a test r2 of 0.45: 0.6 is out of its reach.
    with edited(params, with_gates(regression, min_test_r2=0.6)):
        assert check_cli(regression) == 1
    assert failed_gates(regression) == {"min_test_r2"}
    gate = next(g for g in summary(regression)["gates"] if g["name"] == "min_test_r2")
    assert gate["threshold"] == 0.6
    assert gate["value"] < 0.6
