"""Experiment tracking against a real MLflow server on 127.0.0.1, read back with MLflow's client.

One ``mlflow server`` (SQLite store, artifacts proxied by the server) is started for this module
and shared by its tests; each test logs to an experiment of its own.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient
import requests
import yaml

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.layout import TRACKING_FILE
from {{ cookiecutter.module_name }}.pipeline import run_history, tracking
from {{ cookiecutter.module_name }}.processes import stop_group
from {{ cookiecutter.module_name }}.records import Metrics

pytestmark = pytest.mark.code

SERVER_START_TIMEOUT = 240  # a loaded 2-core runner takes a minute to import the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server on a free loopback port; yields its URI."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow), "server",
        "--backend-store-uri", f"sqlite:///{folder / 'store.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log = (folder / "server.log").open("w")
    # No background job workers (the server starts them as processes of their own); its own
    # session, so that stopping it stops every process it started.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env, start_new_session=True
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    try:
        while True:
            try:
                if requests.get(f"{uri}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start:\n{(folder / 'server.log').read_text()}")
            time.sleep(0.3)
        yield uri
    finally:
        stop_group(process, grace=15)
        log.close()


@pytest.fixture(autouse=True)
def _tracking_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about tracking: undo the suite's EXPERIMENT_TRACKING=none."""
    monkeypatch.delenv(tracking.SWITCH_ENV, raising=False)


@pytest.fixture
def project(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> Path:
    """A small classification project with its data; returns the params file."""
    return make_project(base_params("classification"), frame=make_frame("classification", 120))


def _with_c(params_file: Path, c: float) -> None:
    params = yaml.safe_load(params_file.read_text())
    params["model"]["params"]["C"] = c
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))


def _client(uri: str) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def _warnings(out: str) -> list[str]:
    return [line for line in out.splitlines() if "warning" in line.lower()]


BRANCH = "idea/smaller-c"


@dataclass(frozen=True)
class Trained:
    """A project trained twice (C=1.0, then C=0.05) with the server as its tracking store."""

    params_file: Path
    server: str
    out: str

    @property
    def artifacts(self) -> Path:
        return self.params_file.parent / "artifacts"


@pytest.fixture(scope="module")
def trained(
    server: str,
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Trained:
    root = tmp_path_factory.mktemp("tracked")
    params_file = root / "params.yaml"
    params_file.write_text(yaml.safe_dump(base_params("classification"), sort_keys=False))
    (root / "data").mkdir()
    make_frame("classification", 120).to_csv(root / "data" / "data.csv", index=False)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        patch.delenv(tracking.SWITCH_ENV, raising=False)
        patch.setenv(tracking.URI_ENV, server)
        patch.setenv(tracking.EXPERIMENT_ENV, "two-runs")
        patch.setenv("GITHUB_HEAD_REF", BRANCH)
        for c in (1.0, 0.05):
            _with_c(params_file, c)
            assert main(["train", "--params", str(params_file)]) == 0
    return Trained(params_file, server, out.getvalue())


def test_two_trainings_are_two_runs_on_the_server(trained: Trained) -> None:
    assert not _warnings(trained.out), trained.out
    record = json.loads((trained.artifacts / TRACKING_FILE).read_text())
    experiment_id, run_id = record["experiment_id"], record["run_id"]
    assert record["url"] == f"{trained.server}/#/experiments/{experiment_id}/runs/{run_id}"
    assert record["url"] in trained.out
    assert "View run" not in trained.out  # MLflow's own lines: one line per run is ours

    client = _client(trained.server)
    experiment = client.get_experiment_by_name("two-runs")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    assert [r.data.params["model.params.C"] for r in runs] == ["1.0", "0.05"]
    lineage = json.loads((trained.artifacts / "lineage.json").read_text())
    metrics = json.loads((trained.artifacts / "metrics.json").read_text())
    last = runs[-1]
    assert last.info.run_id == run_id
    assert last.data.params["data.target"] == "target"
    assert last.data.metrics["test_roc_auc"] == pytest.approx(metrics["test"]["roc_auc"])
    assert last.data.metrics["train_accuracy"] == pytest.approx(metrics["train"]["accuracy"])
    tags = last.data.tags
    assert tags[tracking.TAG_MODEL_SHA] == lineage["model"]["sha256"]
    assert tags[tracking.TAG_DATA_SHA] == lineage["data"]["sha256"]
    assert tags[tracking.TAG_TASK] == "classification"
    assert tags[tracking.TAG_BRANCH] == BRANCH
    assert tags[tracking.TAG_COMMAND] == "train"
    files = {a.path for a in client.list_artifacts(run_id)}
    assert {"lineage.json", "metrics.json", "diagnostics.json", "plots"} <= files


def test_the_tracked_model_predicts_as_the_trained_one(trained: Trained) -> None:
    import joblib
    import mlflow.models
    import mlflow.sklearn
    import pandas as pd

    run_id = json.loads((trained.artifacts / TRACKING_FILE).read_text())["run_id"]
    model = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
    local = joblib.load(trained.artifacts / "model.joblib")
    data = pd.read_csv(trained.params_file.parent / "data" / "data.csv").drop(columns="target")
    assert (model.predict(data) == local.predict(data)).all()
    info = mlflow.models.get_model_info(f"runs:/{run_id}/model")
    assert info.signature is not None
    assert set(info.signature.inputs.input_names()) == set(data.columns)
    assert info.saved_input_example_info is not None


def test_runs_lists_the_branch_history(
    trained: Trained, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(tracking.URI_ENV, trained.server)
    monkeypatch.setenv(tracking.EXPERIMENT_ENV, "two-runs")
    args = ["runs", "--params", str(trained.params_file)]
    assert main([*args, "--branch", BRANCH]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line[:4].isdigit()]
    assert len(rows) == 2, out
    assert "test_roc_auc" in out
    assert main([*args, "--branch", "other"]) == 0
    assert "No tracked runs on 'other'" in capsys.readouterr().out


def test_gates_are_added_to_the_tracked_run(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tracking.URI_ENV, trained.server)
    artifacts, root = trained.artifacts, trained.params_file.parent
    summary = root / "checks.json"  # beside the artifacts: other tests read them as trained
    summary.write_text('{"passed": true, "gates": []}')
    model_sha = json.loads((artifacts / "lineage.json").read_text())["model"]["sha256"]
    record = tracking.read_tracked(artifacts, model_sha)
    assert record is not None
    assert tracking.log_checks(artifacts, model_sha, (summary,), True, root, print)
    client = _client(trained.server)
    assert client.get_run(record.run_id).data.tags[tracking.TAG_GATES] == "true"
    assert "checks.json" in {a.path for a in client.list_artifacts(record.run_id)}
    # Another model's record is not this run's: nothing is logged to it.
    assert not tracking.log_checks(artifacts, "0" * 64, (summary,), True, root, print)


def test_a_server_that_is_down_costs_one_warning_line(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(tracking.URI_ENV, f"http://user:secret@127.0.0.1:{_free_port()}")
    artifacts = project.parent / "artifacts"
    artifacts.mkdir()
    (artifacts / TRACKING_FILE).write_text("{}")  # an older run's record
    started = time.monotonic()
    assert main(["train", "--params", str(project)]) == 0
    out = capsys.readouterr().out
    assert len(_warnings(out)) == 1, out
    assert "experiment tracking failed" in out
    assert "secret" not in out  # the URI is printed without its credentials
    assert time.monotonic() - started < 60  # no minutes of retries
    for name in ("model.joblib", "metrics.json", "lineage.json"):
        assert (artifacts / name).is_file()
    assert not (artifacts / TRACKING_FILE).exists()


def test_a_server_that_refuses_writes_costs_one_warning_line(
    server: str, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = _client(server)
    client.delete_experiment(client.create_experiment("closed"))  # runs cannot start in it
    monkeypatch.setenv(tracking.URI_ENV, server)
    monkeypatch.setenv(tracking.EXPERIMENT_ENV, "closed")
    assert main(["train", "--params", str(project)]) == 0
    out = capsys.readouterr().out
    assert len(_warnings(out)) == 1, out
    assert "run not logged" in out
    assert (project.parent / "artifacts" / "model.joblib").is_file()


def test_the_embedded_store_lives_in_the_project(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(tracking.URI_ENV, raising=False)
    monkeypatch.setenv(tracking.EXPERIMENT_ENV, "embedded")
    assert main(["train", "--params", str(project)]) == 0
    assert not _warnings(capsys.readouterr().out)
    root = project.parent
    store = tracking.store_uri(root)
    assert store == f"sqlite:///{(root / 'mlruns' / 'mlflow.db').resolve().as_posix()}"
    client = _client(store)
    experiment = client.get_experiment_by_name("embedded")
    assert experiment is not None
    assert experiment.artifact_location == (root / "mlruns" / "artifacts").resolve().as_uri()
    (run,) = client.search_runs([experiment.experiment_id])
    assert json.loads((root / "artifacts" / TRACKING_FILE).read_text())["url"] is None
    assert "lineage.json" in {a.path for a in client.list_artifacts(run.info.run_id)}


@pytest.mark.parametrize(
    ("uri", "public"),
    [
        ("http://u:p@host:5000/x", "http://host:5000/x"),
        ("https://token@host", "https://host"),
        ("sqlite:////tmp/a.db", "sqlite:////tmp/a.db"),
        ("databricks", "databricks"),
    ],
)
def test_printed_uris_carry_no_credentials(uri: str, public: str) -> None:
    assert tracking.public_uri(uri) == public


def test_params_are_flattened_and_metrics_finite() -> None:
    params = tracking.run_params({"model": {"type": "ridge", "params": {"alpha": 1.0}}, "x": [1]})
    assert params == {"model.type": "ridge", "model.params.alpha": "1.0", "x": "[1]"}
    metrics = tracking.run_metrics(Metrics(test={"r2": 0.5, "bad": float("nan")}, train={"r2": 1}))
    assert metrics == {"test_r2": 0.5, "train_r2": 1.0}


def test_history_filter_quotes_the_branch() -> None:
    assert run_history._quote("a'b\\c") == "a\\'b\\\\c"


TUNE = {
    "trials": 4,
    "cv_folds": 3,
    "metric": "neg_log_loss",
    "space": {"logistic_regression": {"C": {"type": "float", "low": 0.01, "high": 10.0}}},
}


def test_a_study_is_a_parent_run_with_a_nested_run_per_trial(
    server: str,
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    params_file = make_project(base_params(tune=TUNE), frame=make_frame(rows=120, seed=2))
    monkeypatch.setenv(tracking.URI_ENV, server)
    monkeypatch.setenv(tracking.EXPERIMENT_ENV, "tuning")
    assert main(["tune", "--params", str(params_file)]) == 0
    assert not _warnings(capsys.readouterr().out)
    summary = json.loads((params_file.parent / "artifacts" / "tune.json").read_text())

    client = _client(server)
    experiment = client.get_experiment_by_name("tuning")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.data.tags[tracking.TAG_STUDY] == summary["study"]
    assert parent.data.metrics["best_cv_neg_log_loss"] == pytest.approx(summary["best_value"])
    assert float(parent.data.params["best.C"]) == pytest.approx(summary["best_params"]["C"])
    trials = sorted(
        (r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id),
        key=lambda r: int(r.data.tags["trial"]),
    )
    assert len(trials) == len(runs) - 1 == summary["trials"] == 4
    logged = [(float(r.data.params["C"]), r.data.metrics.get("cv_neg_log_loss")) for r in trials]
    expected = [(t["params"]["C"], t["value"]) for t in summary["worker_log"]]
    approx: list[tuple[object, object]] = [
        (pytest.approx(c), pytest.approx(v)) for c, v in expected
    ]
    assert logged == approx
    best = max(v for _, v in logged if v is not None)
    assert best == pytest.approx(summary["best_value"])


def test_a_tracker_that_is_down_costs_a_tune_one_warning_line(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    params_file = make_project(base_params(tune=TUNE), frame=make_frame(rows=120, seed=2))
    monkeypatch.setenv(tracking.URI_ENV, f"http://127.0.0.1:{_free_port()}")
    assert main(["tune", "--params", str(params_file), "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert len(_warnings(out)) == 1, out
    assert "study not logged" in out
    assert json.loads((params_file.parent / "artifacts" / "tune.json").read_text())["trials"] == 2
