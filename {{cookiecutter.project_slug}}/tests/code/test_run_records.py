"""The run records on disk (records.py): metrics, tracking, image, tuning and study summary.

Each one round-trips through its JSON, reads a record of an older run (no ``schema_version``,
optional fields left out), and refuses a newer version or a malformed record in one line that
names the file. The PR report renders a base run whose records lack fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.module_name }}.errors import ArtifactError
from {{ cookiecutter.module_name }}.records import (
    SCHEMA_VERSION,
    ChecksRecord,
    ImageRecord,
    Lineage,
    Metrics,
    Record,
    StudySummary,
    TrackedRun,
    TuneResult,
)
from {{ cookiecutter.module_name }}.reporting.report import render
from {{ cookiecutter.module_name }}.reporting.runs import Base, Run, load_base

pytestmark = pytest.mark.code

SHA = "a" * 64
#: Per record: a full record as this code writes it, and the least an older run wrote.
RECORDS: dict[type[Record], tuple[dict[str, Any], dict[str, Any]]] = {
    Metrics: (
        {"task": "regression", "train": {"r2": 0.9}, "test": {"r2": 0.8, "rmse": 1.5}},
        {"test": {"r2": 0.8}},
    ),
    TrackedRun: (
        {
            "run_id": "r1",
            "experiment_id": "1",
            "experiment": "churn",
            "store": "https://mlflow.example.com",
            "url": "https://mlflow.example.com/#/experiments/1/runs/r1",
            "model_sha256": SHA,
        },
        {
            "run_id": "r1",
            "experiment_id": "1",
            "experiment": "churn",
            "store": "s",
            "model_sha256": SHA,
        },
    ),
    ImageRecord: (
        {"ref": f"ghcr.io/o/m@sha256:{'0' * 64}", "image": "ghcr.io/o/m", "tags": ["abc1234"]},
        {"ref": f"ghcr.io/o/m@sha256:{'0' * 64}"},
    ),
    TuneResult: (
        {
            "study": "logistic_regression-0123456789ab",
            "storage": "sqlite:///tune.db",
            "model_type": "logistic_regression",
            "metric": "accuracy",
            "best_value": 0.9,
            "best_params": {"C": 1.5},
            "trials": 3,
            "complete": 2,
            "pruned": 1,
            "worker_trials": 3,
            "seconds": 1.25,
            "importances": {"C": 1.0},
            "applied": True,
            "worker_log": [
                {"number": 0, "state": "complete", "value": 0.9, "params": {"C": 1.5}},
                {"number": 1, "state": "pruned", "value": None, "params": {"C": 0.01}},
            ],
        },
        {
            "study": "s",
            "storage": "sqlite:///tune.db",
            "model_type": "ridge",
            "metric": "r2",
            "best_value": 0.5,
            "best_params": {"alpha": 1.0},
            "trials": 1,
            "complete": 1,
            "pruned": 0,
            "worker_trials": 1,
            "seconds": 0.5,
        },
    ),
    StudySummary: (
        {
            "study": "s",
            "model_type": "ridge",
            "metric": "r2",
            "trials": 2,
            "complete": 2,
            "pruned": 0,
            "best_value": 0.5,
            "best_params": {"alpha": 1.0, "fit_intercept": True},
            "importances": {"alpha": 0.7, "fit_intercept": 0.3},
        },
        {
            "study": "s",
            "model_type": "ridge",
            "metric": "r2",
            "trials": 1,
            "complete": 1,
            "pruned": 0,
            "best_value": 0.5,
            "best_params": {"alpha": 1.0},
        },
    ),
}
#: A field of each record given a value of the wrong type.
MALFORMED = {
    Metrics: ("test", {"r2": "high"}),
    TrackedRun: ("run_id", None),
    ImageRecord: ("tags", "latest"),
    TuneResult: ("trials", "many"),
    StudySummary: ("best_params", {}),
}
KINDS = list(RECORDS)


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_a_record_round_trips_with_its_version(kind: type[Record], tmp_path: Path) -> None:
    full, _ = RECORDS[kind]
    written = kind.parse(full, "record.json").to_json()
    assert written == {**full, "schema_version": SCHEMA_VERSION}
    assert kind.read(_write(tmp_path, written)).to_json() == written


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_an_older_record_without_the_newer_fields_is_read(
    kind: type[Record], tmp_path: Path
) -> None:
    _, old = RECORDS[kind]
    record = kind.read(_write(tmp_path, old))
    assert record.schema_version == 1
    assert record.to_json() == {**old, "schema_version": 1}, "nothing is added on the way"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_a_record_of_a_newer_version_is_refused_in_one_line(
    kind: type[Record], tmp_path: Path
) -> None:
    full, _ = RECORDS[kind]
    path = _write(tmp_path, {**full, "schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(ArtifactError, match="is newer than this project reads") as caught:
        kind.read(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_a_malformed_record_is_refused_in_one_line_naming_the_file(
    kind: type[Record], tmp_path: Path
) -> None:
    full, _ = RECORDS[kind]
    key, bad = MALFORMED[kind]
    for document in ({**full, key: bad}, [full], "text"):
        path = _write(tmp_path, document)
        with pytest.raises(ArtifactError) as caught:
            kind.read(path)
        message = str(caught.value)
        assert message.startswith(str(path)), message
        assert "\n" not in message
        if isinstance(document, dict):
            assert key in message


def test_lineage_carries_the_metrics_record() -> None:
    metrics, _ = RECORDS[Metrics]
    lineage = Lineage.parse({"data": {"path": "d.csv"}, "metrics": metrics}, "lineage.json")
    assert lineage.metrics.test == {"r2": 0.8, "rmse": 1.5}
    assert lineage.to_json()["metrics"] == metrics, "no version of its own inside lineage"
    assert Lineage.parse({"data": {"path": "d.csv"}}, "lineage.json").metrics.test == {}


def test_a_split_an_older_run_did_not_record_is_none() -> None:
    metrics = Metrics.parse({"test": {"r2": 0.8}}, "metrics.json")
    assert metrics.split("test") == {"r2": 0.8}
    assert metrics.split("train") is None


def _run(lineage: dict[str, Any], metrics: dict[str, Any], checks: dict[str, Any]) -> Run:
    return Run(
        Metrics.parse(metrics, "metrics.json"),
        Lineage.parse(lineage, "lineage.json"),
        ChecksRecord.parse(checks, "checks.json"),
    )


def test_the_report_renders_a_base_whose_records_lack_fields() -> None:
    gate = {"name": "min_r2", "suite": "model", "value": 0.8, "threshold": 0.5, "passed": True}
    pr = _run(
        {
            "project": "churn",
            "task": "regression",
            "seed": 7,
            "git": {"commit": "b" * 40, "dirty": False},
            "data": {"path": "d.csv", "sha256": SHA, "rows": 120, "columns": 4, "target": "y"},
            "model": {"type": "ridge", "sha256": SHA},
            "params": {"model": {"type": "ridge"}},
        },
        RECORDS[Metrics][0],
        {"passed": True, "gates": [gate]},
    )
    old_base = _run({"data": {"path": "d.csv"}}, {"test": {"r2": 0.7}}, {"gates": [gate]})
    markdown = render(pr, Base(run=old_base, ref="main"))
    assert "The gate passed" in markdown.splitlines()[2]
    data_rows = [line for line in markdown.splitlines() if line.startswith("| Rows |")]
    assert data_rows == ["| Rows | 120 | (absent) |"]
    assert "| r2 ↑ | 0.8000 | 0.7000 |" in markdown
    # The old base recorded no train split: the PR's is shown with nothing beside it.
    assert "Training-set metrics" in markdown


def test_a_base_whose_records_cannot_be_read_gives_a_note_not_an_error(tmp_path: Path) -> None:
    metrics, _ = RECORDS[Metrics]
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "lineage.json").write_text(json.dumps({"data": {"path": "d.csv"}}))
    # A gate record of another shape (an old `make check`'s): the base just has no gate values.
    (tmp_path / "checks.json").write_text(json.dumps({"gates": [{"name": "min_r2"}]}))
    base = load_base(tmp_path, ref="main")
    assert base.run is not None
    assert base.run.checks is None
    assert base.run.metrics.test == metrics["test"]

    (tmp_path / "lineage.json").write_text(json.dumps({"data": "d.csv"}))
    base = load_base(tmp_path, ref="main")
    assert base.run is None
    assert base.note.startswith("the base run is unreadable")
    assert "lineage.json: data" in base.note
