"""Batch scoring: parity with the service, chunking, bad rows, atomic output, stages, Dask."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from {{ cookiecutter.module_name }} import predict
from {{ cookiecutter.module_name }}.cli import main as cli_main
from {{ cookiecutter.module_name }}.config import load_params
from {{ cookiecutter.module_name }}.data import to_numbers
from {{ cookiecutter.module_name }}.errors import DataError, ProjectError
from {{ cookiecutter.module_name }}.pipeline.train import run_training
from {{ cookiecutter.module_name }}.release.registry import model_name
from {{ cookiecutter.module_name }}.serving import schema
from {{ cookiecutter.module_name }}.serving.inference import Inference

pytestmark = pytest.mark.code

PROJECT = Path(__file__).resolve().parents[2]
NAME = model_name(PROJECT)


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory,
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> Path:
    """A project trained on 300 mixed rows; returns its params file."""
    root = tmp_path_factory.mktemp("scoring")
    params_file = root / "params.yaml"
    params_file.write_text(yaml.safe_dump(base_params()), encoding="utf-8")
    (root / "data").mkdir()
    make_frame(rows=300, seed=3).to_csv(root / "data" / "data.csv", index=False)
    (root / "pyproject.toml").write_text(f'[project]\nname = "{NAME}"\nversion = "0.1.0"\n')
    run_training(load_params(params_file), root)
    return params_file


@pytest.fixture(scope="module")
def model(trained: Path) -> predict.Model:
    root = trained.parent
    return predict.load_last_run(load_params(trained), root, root / "artifacts")


@pytest.fixture(scope="module")
def new_rows(make_frame: Callable[..., Any]) -> Callable[..., pd.DataFrame]:
    """Factory: unlabelled rows from the training distribution, with an id column."""

    def rows(count: int = 500, seed: int = 9) -> pd.DataFrame:
        frame: pd.DataFrame = make_frame(rows=count, seed=seed).drop(columns="target")
        return frame.assign(customer=[f"c{i}" for i in range(count)])

    return rows


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_predictions_equal_the_services_for_the_same_rows(
    trained: Path, model: predict.Model, new_rows: Callable[..., pd.DataFrame]
) -> None:
    root = trained.parent
    rows = new_rows(300)
    rows.to_csv(root / "new.csv", index=False)
    job = predict.Job(root / "new.csv", root / "out.parquet", id_column="customer", chunk_rows=64)
    summary = predict.run(job, model)
    assert (summary.rows, summary.scored, summary.rejected) == (300, 300, 0)
    out = pd.read_parquet(root / "out.parquet")
    assert out["customer"].tolist() == rows["customer"].tolist()
    # The service's path: one pydantic record per row, its rows, its inference.
    record = schema.record_model(model.features)
    names = [f["name"] for f in model.features]
    records = [record.model_validate(r) for r in rows[names].to_dict("records")]
    served = Inference(model.pipeline, model.features, "classification").answers(
        schema.record_rows(records, model.features)
    )
    assert out["prediction"].tolist() == [s["prediction"] for s in served]
    classes = [c.removeprefix("probability_") for c in out.columns if c.startswith("probability_")]
    expected = [[s["probabilities"][c] for c in classes] for s in served]
    np.testing.assert_allclose(out[[f"probability_{c}" for c in classes]].to_numpy(), expected)


def test_chunk_size_and_formats_do_not_change_the_predictions(
    trained: Path, model: predict.Model, new_rows: Callable[..., pd.DataFrame]
) -> None:
    root = trained.parent
    rows = new_rows(250)
    rows.to_csv(root / "in.csv", index=False)
    rows.to_parquet(root / "in.parquet", index=False)
    outputs = {}
    for name, source, chunk in (
        ("a.parquet", "in.csv", 1000),
        ("b.csv", "in.csv", 7),
        ("c.parquet", "in.parquet", 33),
    ):
        predict.run(predict.Job(root / source, root / name, chunk_rows=chunk), model)
        read = pd.read_parquet if name.endswith(".parquet") else pd.read_csv
        outputs[name] = read(root / name)
    pd.testing.assert_frame_equal(outputs["a.parquet"], outputs["c.parquet"])
    pd.testing.assert_frame_equal(outputs["a.parquet"], outputs["b.csv"], check_dtype=False)


def bad_file(root: Path, new_rows: Callable[..., pd.DataFrame]) -> Path:
    """Rows 4 and 10 (file lines 5 and 11) break the schema; the others are fine."""
    rows = new_rows(40).astype({"age": object})
    rows.loc[3, "age"] = "forty"
    rows.loc[9, "city"] = "atlantis"
    rows.to_csv(root / "bad.csv", index=False)
    return root / "bad.csv"


def test_a_bad_row_refuses_the_file_naming_its_line_and_writes_nothing(
    trained: Path, model: predict.Model, new_rows: Callable[..., pd.DataFrame]
) -> None:
    root = trained.parent
    job = predict.Job(bad_file(root, new_rows), root / "refused.parquet", chunk_rows=8)
    with pytest.raises(DataError, match=r"bad\.csv: line 5: 'age': not a number \(got 'forty'\)"):
        predict.run(job, model)
    assert not (root / "refused.parquet").exists()
    assert leftovers(root) == []


def test_rejects_holds_the_bad_rows_with_reasons_and_the_rest_is_scored(
    trained: Path, model: predict.Model, new_rows: Callable[..., pd.DataFrame]
) -> None:
    root = trained.parent
    job = predict.Job(
        bad_file(root, new_rows),
        root / "scored.csv",
        id_column="customer",
        rejects=root / "rejects.csv",
        chunk_rows=8,
    )
    summary = predict.run(job, model)
    assert (summary.scored, summary.rejected) == (38, 2)
    rejects = pd.read_csv(root / "rejects.csv")
    assert rejects["line"].tolist() == [5, 11]
    assert rejects["customer"].tolist() == ["c3", "c9"]
    assert "not one of the categories seen in training" in rejects["reason"][1]
    scored = pd.read_csv(root / "scored.csv")
    assert "c3" not in set(scored["customer"])
    assert len(scored) == 38


def test_an_interrupted_run_leaves_no_output_and_keeps_the_previous_one(
    trained: Path, model: predict.Model, new_rows: Callable[..., pd.DataFrame]
) -> None:
    root = trained.parent
    new_rows(100).to_csv(root / "big.csv", index=False)
    (root / "kept.parquet").write_bytes(b"previous run")

    def interrupt(message: str) -> None:
        if message.startswith("40 rows"):
            raise KeyboardInterrupt

    job = predict.Job(root / "big.csv", root / "kept.parquet", chunk_rows=20)
    with pytest.raises(KeyboardInterrupt):
        predict.run(job, model, interrupt)
    assert (root / "kept.parquet").read_bytes() == b"previous run"
    assert leftovers(root) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--input": "missing.csv"}, "missing.csv: file not found"),
        ({"--input": "data.txt"}, "unknown input format"),
        ({"--output": "out.json"}, "unknown output format"),
        ({"--output": "../outside.parquet"}, "outside the project"),
        ({"--id-column": "nope"}, "--id-column 'nope' is not a column"),
        ({"--rejects": "rejects.parquet"}, "must be a .csv file"),
        ({"--input": "nofeatures.csv"}, "feature column(s) the model needs are missing: age"),
    ],
)
def test_the_command_refuses_bad_arguments_in_one_line(
    trained: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    message: str,
    new_rows: Callable[..., pd.DataFrame],
) -> None:
    root = trained.parent
    (root / "data.txt").write_text("x")
    new_rows(5).drop(columns="age").to_csv(root / "nofeatures.csv", index=False)
    new_rows(5).to_csv(root / "ok.csv", index=False)
    options = {"--input": "ok.csv", "--output": "p.parquet"} | change
    argv = ["predict", "--params", str(trained)] + [x for kv in options.items() for x in kv]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert err.count("\n") == 1


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_a_stage_scores_with_the_model_its_registration_names(
    trained: Path, model: predict.Model, capsys: pytest.CaptureFixture[str]
) -> None:
    from {{ cookiecutter.module_name }}.artifacts import sha256_file

    root = trained.parent
    shutil.copy(PROJECT / ".gto", root / ".gto")  # the stages it may name
    with pytest.raises(ProjectError, match="git"):
        predict.load_stage("prod", root, root / "artifacts")
    git(root, "init", "-q", "-b", "main")
    author = ["-c", "user.name=t", "-c", "user.email=t@e"]
    git(root, *author, "commit", "-q", "--allow-empty", "-m", "init")
    sha = sha256_file(root / "artifacts" / "model.joblib")
    tag = [*author, "tag", "-a"]
    git(root, *tag, "-m", f"Register\n\nmodel-sha256: {sha}\n", f"{NAME}@v0.1.0")
    git(root, *tag, "-m", "Assign", f"{NAME}#prod#1")
    staged = predict.load_stage("prod", root, root / "artifacts")
    assert cli_main(["stage", "--params", str(trained), "--stage", "prod"]) == 0
    assert f"prod runs v0.1.0 ({NAME}@v0.1.0, commit " in capsys.readouterr().out
    assert staged.source.startswith("prod: v0.1.0")
    assert staged.lineage == model.lineage
    with pytest.raises(Exception, match="no version is assigned to staging"):
        predict.load_stage("staging", root, root / "artifacts")
    git(root, *author, "commit", "-q", "--allow-empty", "-m", "next")
    git(root, *tag, "-m", f"Register\n\nmodel-sha256: {'0' * 64}\n", f"{NAME}@v0.2.0")
    git(root, *tag, "-m", "Assign", f"{NAME}#prod#2")
    # Looking in the BentoML store sets BentoML up for the whole process: a process of its own.
    home = root / "empty_bentoml_home"
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "{{ cookiecutter.module_name }}",
            "predict",
            "--params",
            str(trained),
            "--stage",
            "prod",
            "--input",
            "x.csv",
            "--output",
            "y.parquet",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"},
    )
    assert refused.returncode == 2
    assert re.search(r"^error: prod runs v0\.2\.0, whose model .* check out", refused.stderr)


# The service's pydantic model and the batch check must agree on every value: one policy.
FEATURES = [
    {"name": "x", "kind": "numeric", "min": 0.0, "max": 10.0, "missing": 0.0},
    {"name": "y", "kind": "numeric", "min": -1.0, "max": 1.0, "missing": 0.2},
    {"name": "c", "kind": "categorical", "categories": ["a", "b"], "missing": 0.0},
    {"name": "d", "kind": "categorical", "categories": ["u"], "missing": 0.1},
]
NUMBERS = st.one_of(
    st.none(),
    st.floats(-30, 30),
    st.sampled_from([math.inf, -math.inf, -5.0, -5.0001, 15.0, 15.0001]),
)
RECORD = schema.record_model(FEATURES)
CATEGORIES = st.one_of(st.none(), st.sampled_from(["a", "b", "u", "z", ""]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(NUMBERS, NUMBERS, CATEGORIES, CATEGORIES), min_size=1, max_size=12))
def test_check_rows_accepts_exactly_what_the_service_accepts(
    rows: list[tuple[object, object, str | None, str | None]],
) -> None:
    frame = pd.DataFrame(rows, columns=["x", "y", "c", "d"])
    _, reasons = schema.check_rows(frame, FEATURES)
    for values, reason in zip(rows, reasons, strict=True):
        try:
            RECORD.model_validate(dict(zip("xycd", values, strict=True)))
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == (reason == ""), (values, reason)


def test_check_rows_reads_numbers_by_the_training_datas_rules() -> None:
    # Text cells (a column pandas could not read as numbers) go through data.to_numbers, as
    # training data does: the same value is never a number in one and refused in the other.
    text = pd.Series(["1.5", "1e400", "1_000", "abc", " 2 "], dtype=object)
    frame = pd.DataFrame({"x": text, "y": 0.0, "c": "a", "d": "u"})
    columns, reasons = schema.check_rows(frame, FEATURES)
    expected = to_numbers(text)
    np.testing.assert_array_equal(columns["x"].to_numpy()[[0, 4]], expected.to_numpy()[[0, 4]])
    assert reasons.tolist() == [
        "",
        "'x': not finite (got '1e400')",
        "'x': not a number (got '1_000')",
        "'x': not a number (got 'abc')",
        "",
    ]


@pytest.mark.slow
def test_dask_gives_the_in_process_predictions_and_rejects(
    trained: Path, model: predict.Model, new_rows: Callable[..., pd.DataFrame]
) -> None:
    from distributed import LocalCluster

    root = trained.parent
    rows = new_rows(3000).astype({"age": object})
    rows.loc[1234, "age"] = "n/a"
    rows.to_csv(root / "dask.csv", index=False)
    local = predict.Job(
        root / "dask.csv", root / "local.parquet", "customer", root / "local.csv", 500
    )
    predict.run(local, model)
    # Two worker processes; small CSV blocks so that the file spans several partitions.
    with (
        pytest.MonkeyPatch.context() as patch,
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
    ):
        patch.setattr(predict.job, "DASK_BLOCKSIZE", 40_000)
        job = predict.Job(
            root / "dask.csv",
            root / "dask.parquet",
            "customer",
            root / "dask-rejects.csv",
            scheduler=cluster.scheduler_address,
        )
        messages: list[str] = []
        summary = predict.run(job, model, messages.append)
    assert summary.engine.startswith("dask")
    assert "partition(s) on 2 worker(s)" in messages[0]
    assert int(messages[0].split()[0]) > 1
    pd.testing.assert_frame_equal(
        pd.read_parquet(root / "dask.parquet"), pd.read_parquet(root / "local.parquet")
    )
    pd.testing.assert_frame_equal(
        pd.read_csv(root / "dask-rejects.csv"), pd.read_csv(root / "local.csv")
    )
    assert pd.read_csv(root / "local.csv")["line"].tolist() == [1236]
