"""Served traffic becomes a monitor report: real requests to `bentoml serve`, then `monitor`.

Rows of the project's own data are sent to a real server whose traffic log is a fresh folder
under data/ (TRAFFIC_LOG_DIR); the log must hold exactly the rows sent and the answers given,
one file per worker, and the monitor must read that folder as a batch (features only).
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from live import ROOT, Server, fetch, serving

from {{ cookiecutter.module_name }}.config import load_params
from {{ cookiecutter.module_name }}.layout import LINEAGE_FILE, MODEL_FILE, MONITOR_JSON
from {{ cookiecutter.module_name }}.monitoring import monitor
from {{ cookiecutter.module_name }}.serving import traffic

pytestmark = [pytest.mark.service, pytest.mark.slow]

SINGLE_ROW_REQUESTS = 40
MULTI_ROW_REQUESTS = 8
ROWS_PER_REQUEST = 10
SENT_ROWS = SINGLE_ROW_REQUESTS + MULTI_ROW_REQUESTS * ROWS_PER_REQUEST

# Each sent row with the service's answer to it.
Answered = list[tuple[dict[str, Any], dict[str, Any]]]


@pytest.fixture(scope="module")
def log_dir() -> Iterator[Path]:
    """A fresh folder inside the project (where the monitor reads batches); removed after."""
    folder = ROOT / "data" / f"traffic-test-{uuid.uuid4().hex[:8]}"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def logging_server(
    server_env: dict[str, str], log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    env = {**server_env, traffic.DIR_ENV: str(log_dir)}
    with serving(env, tmp_path_factory.mktemp("serve") / "serve.log") as running:
        yield running


@pytest.fixture(scope="module")
def sent(lineage: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the training data, features only, as a caller sends them (NaN -> null)."""
    params = load_params(ROOT / "params.yaml")
    names = [f["name"] for f in lineage["data"]["features"]]
    frame = pd.read_csv(ROOT / params.data.path).sample(n=SENT_ROWS, random_state=0)[names]
    rows: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    return rows


def _post(server: Server, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    status, text = fetch(f"{server.url}/predict", json.dumps({"records": rows}))
    assert status == 200, text[:300]
    answers: list[dict[str, Any]] = json.loads(text)
    return answers


@pytest.fixture(scope="module")
def answered(logging_server: Server, sent: list[dict[str, Any]]) -> Answered:
    """Send the rows (1-row and 10-row requests, 4 at a time); pair each row with its answer."""
    singles = [[row] for row in sent[:SINGLE_ROW_REQUESTS]]
    rest = sent[SINGLE_ROW_REQUESTS:]
    multis = [rest[i : i + ROWS_PER_REQUEST] for i in range(0, len(rest), ROWS_PER_REQUEST)]
    requests = singles + multis
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda rows: _post(logging_server, rows), requests))
    return [
        (row, answer)
        for rows, request_answers in zip(requests, answers, strict=True)
        for row, answer in zip(rows, request_answers, strict=True)
    ]


def _key(row: dict[str, Any]) -> str:
    """A row as comparable text: numbers as floats (the log holds the validated row, where a
    float column's 8 is 8.0)."""
    numbers = {k: float(v) for k, v in row.items() if type(v) in (int, float)}
    return json.dumps({**row, **numbers}, sort_keys=True)


def test_the_log_holds_every_served_row_and_its_answer(
    answered: Answered, log_dir: Path, logging_server: Server
) -> None:
    files = traffic.log_files(log_dir)
    assert files, f"no traffic log file in {log_dir}"
    entries = [json.loads(line) for path in files for line in path.read_text("utf-8").splitlines()]
    assert len(entries) == SENT_ROWS
    status, text = fetch(f"{logging_server.url}/metadata", "{}")
    assert status == 200, text[:300]
    assert {e["model"] for e in entries} == {json.loads(text)["model_tag"]}
    logged = sorted((_key(e["input"]), _key(e["output"])) for e in entries)
    expected = sorted((_key(row), _key(answer)) for row, answer in answered)
    assert logged == expected
    pids = {path.name.split("-")[2] for path in files}
    assert len(pids) == len(files)  # one file per worker process (no rotation at this size)


def test_the_monitor_reads_the_served_traffic(
    answered: Answered,
    log_dir: Path,
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    for name in (MODEL_FILE, LINEAGE_FILE):  # reports go to a copy, not the project's artifacts
        shutil.copy2(artifacts_dir / name, tmp_path / name)
    params = load_params(ROOT / "params.yaml")
    source = str(log_dir.relative_to(ROOT))
    summary = monitor.monitor(params, ROOT, tmp_path, current=source)
    assert summary.batch.rows == len(answered) == SENT_ROWS
    assert summary.batch.labelled is False
    assert [s.name for s in summary.skipped] == ["label_drift"]
    assert [f.path for f in summary.batch.files] == [
        str(p.relative_to(ROOT)) for p in traffic.log_files(log_dir)
    ]
    assert (tmp_path / MONITOR_JSON).is_file()
    # The log is the batch that was sent: the same rows as a CSV file get the same verdict and
    # gate values. (Not "stable" as such: 120 rows of a real dataset's high-cardinality
    # columns may measure as drift, which is the monitor's answer to judge, not this test's.)
    sent_csv = log_dir.with_suffix(".csv")
    try:
        pd.DataFrame([row for row, _ in answered]).to_csv(sent_csv, index=False)
        (tmp_path / "csv").mkdir()
        for name in (MODEL_FILE, LINEAGE_FILE):
            shutil.copy2(artifacts_dir / name, tmp_path / "csv" / name)
        as_csv = monitor.monitor(
            params, ROOT, tmp_path / "csv", current=str(sent_csv.relative_to(ROOT))
        )
    finally:
        sent_csv.unlink(missing_ok=True)
    assert as_csv.verdict == summary.verdict
    values = {g.name: g.value for g in summary.gates}
    assert values == pytest.approx({g.name: g.value for g in as_csv.gates}, abs=1e-6)
