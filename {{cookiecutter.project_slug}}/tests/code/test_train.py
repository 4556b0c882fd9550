from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import joblib
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.module_name }}.artifacts import sha256_file
from {{ cookiecutter.module_name }}.config import MODELS, load_params, parse_params
from {{ cookiecutter.module_name }}.errors import DataError
from {{ cookiecutter.module_name }}.pipeline import evaluate
from {{ cookiecutter.module_name }}.pipeline.train import TrainResult, run_training

pytestmark = pytest.mark.code

PLOTS = {
    "classification": {"confusion_matrix.png", "roc_curve.png", "feature_importance.png"},
    "regression": {"predicted_vs_actual.png", "residuals.png", "feature_importance.png"},
}


def _train(params_file: Path) -> TrainResult:
    return run_training(load_params(params_file), params_file.parent)


def _snapshot(artifacts: Path) -> dict[str, str]:
    return {
        p.relative_to(artifacts).as_posix(): sha256_file(p)
        for p in sorted(artifacts.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def trained_once(
    tmp_path_factory: pytest.TempPathFactory,
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> Path:
    """A project trained once on small mixed data (copied by ``trained`` for each test)."""
    root = tmp_path_factory.mktemp("trained")
    (root / "data").mkdir()
    make_frame(rows=120).to_csv(root / "data" / "data.csv", index=False)
    (root / "params.yaml").write_text(yaml.safe_dump(base_params()), encoding="utf-8")
    _train(root / "params.yaml")
    return root


@pytest.fixture
def trained(trained_once: Path, tmp_path: Path) -> Path:
    """A fresh copy of a trained project; returns its params file."""
    root = tmp_path / "project"
    shutil.copytree(trained_once, root)
    return root / "params.yaml"


@pytest.fixture
def fast_importance(monkeypatch: pytest.MonkeyPatch) -> None:
    """One permutation repeat instead of five: the value is not what these tests check."""
    monkeypatch.setattr(evaluate, "IMPORTANCE_REPEATS", 1)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_training_writes_every_artifact(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
    task: str,
) -> None:
    params_file = make_project(base_params(task), frame=make_frame(task, rows=120))
    result = _train(params_file)
    artifacts = params_file.parent / "artifacts"
    assert {p.name for p in artifacts.iterdir()} == {
        "model.joblib",
        "metrics.json",
        "diagnostics.json",
        "lineage.json",
        "plots",
    }
    assert {p.name for p in (artifacts / "plots").iterdir()} == PLOTS[task]
    metrics = json.loads((artifacts / "metrics.json").read_text(encoding="utf-8"))
    diagnostics = json.loads((artifacts / "diagnostics.json").read_text(encoding="utf-8"))
    assert set(diagnostics["intervals"]) == set(metrics["test"])
    for name, interval in diagnostics["intervals"].items():
        assert interval["low"] <= metrics["test"][name] <= interval["high"], name
        assert interval["low"] < interval["high"], name  # 30 test rows: resampling moves it
    if task == "classification":
        per_class = {c["label"]: c["support"] for c in diagnostics["per_class"]}
        assert sum(per_class.values()) == diagnostics["test_rows"] == 30
        assert sum(map(sum, diagnostics["confusion"])) == 30
        assert len(diagnostics["roc_tpr"]) == len(diagnostics["roc_fpr"]) > 0
    else:
        assert sum(diagnostics["residual_counts"]) == 30
    assert metrics == result.metrics.to_json()
    keys = set(
        evaluate.CLASSIFICATION_METRICS if task == "classification" else evaluate.REGRESSION_METRICS
    )
    assert metrics["task"] == task
    assert set(metrics["train"]) == set(metrics["test"]) == keys
    model = joblib.load(artifacts / "model.joblib")
    assert list(model.named_steps) == ["preprocess", "model"]
    features = [f.name for f in result.lineage.data.features]
    predictions = model.predict(make_frame(task, rows=5, seed=9)[features])
    assert len(predictions) == 5


def test_user_csv_with_categoricals_and_another_target(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> None:
    frame = make_frame(rows=150, target="churned").astype({"visits": str})
    frame.loc[::7, "city"] = None
    frame.loc[::11, "income"] = None
    data = {
        "path": "inputs/customers.csv",
        "target": "churned",
        "numeric_features": ["age", "income"],
        "categorical_features": ["city", "plan", "visits"],
        "test_size": 0.3,
    }
    model = {"type": "random_forest", "params": {"n_estimators": 20, "max_depth": 4}}
    params_file = make_project(base_params(data=data, model=model), frame=frame)
    result = _train(params_file)
    lineage = result.lineage.to_json()
    assert lineage["data"]["target"] == "churned"
    assert lineage["data"]["classes"] == ["no", "yes"]
    assert lineage["data"]["path"] == "inputs/customers.csv"
    assert (lineage["data"]["train_rows"], lineage["data"]["test_rows"]) == (105, 45)
    kinds = {f["name"]: f["kind"] for f in lineage["data"]["features"]}
    assert kinds == {
        "age": "numeric",
        "income": "numeric",
        "city": "categorical",
        "plan": "categorical",
        "visits": "categorical",
    }
    city = next(f for f in lineage["data"]["features"] if f["name"] == "city")
    assert city["categories"] == ["lyon", "nice", "paris"]
    assert city["missing"] == pytest.approx(22 / 150)
    assert result.metrics.test["accuracy"] > 0.6


@pytest.mark.parametrize(
    ("task", "model"), [(task, model) for task, models in MODELS.items() for model in models]
)
@pytest.mark.usefixtures("fast_importance")
def test_every_model_type_trains(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
    task: str,
    model: str,
) -> None:
    hyper = {"n_estimators": 10} if model == "random_forest" else {}
    if model == "gradient_boosting":
        hyper = {"max_iter": 20}
    params_file = make_project(
        base_params(task, model={"type": model, "params": hyper}), frame=make_frame(task, rows=80)
    )
    result = _train(params_file)
    assert result.lineage.model.type == model


def test_multiclass_classification(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> None:
    frame = make_frame(rows=150)
    frame["target"] = pd.qcut(frame["age"] + frame["income"] / 1e4, 3, labels=["lo", "mid", "hi"])
    params_file = make_project(base_params(), frame=frame)
    result = _train(params_file)
    assert result.lineage.data.classes == ["hi", "lo", "mid"]
    assert 0.5 < result.metrics.test["roc_auc"] <= 1.0
    assert 0.0 <= result.metrics.test["f1"] <= 1.0


def test_training_is_reproducible(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
    tmp_path: Path,
) -> None:
    model = {"type": "random_forest", "params": {"n_estimators": 15}}
    runs = []
    for name in ("one", "two"):
        params_file = make_project(
            base_params(model=model), frame=make_frame(rows=120), root=tmp_path / name
        )
        result = _train(params_file)
        artifacts = params_file.parent / "artifacts"
        pipeline = joblib.load(artifacts / "model.joblib")
        probe = make_frame(rows=30, seed=5)[pipeline.feature_names_in_]
        runs.append((result, artifacts, pipeline.predict_proba(probe)))
    (first, art1, pred1), (second, art2, pred2) = runs
    assert first.metrics == second.metrics
    assert (pred1 == pred2).all()
    assert first.lineage.model.sha256 == second.lineage.model.sha256
    assert sha256_file(art1 / "model.joblib") == sha256_file(art2 / "model.joblib")
    assert _snapshot(art1 / "plots") == _snapshot(art2 / "plots")


#: case -> (file content: text, bytes or None for no file, message[, data params])
BAD_INPUTS: dict[str, tuple[Any, ...]] = {
    "missing file": (None, "data/data.csv: file not found"),
    "empty file": ("", "data/data.csv: file is empty"),
    "only a header": ("age,target\n", "data/data.csv: has a header but no data rows"),
    "not UTF-8": (
        "age,city,target\n1,K\xf6ln,a\n".encode("latin-1"),
        "data/data.csv: not UTF-8 text (byte 0xf6 on line 2)",
    ),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "data/data.csv: not UTF-8 text"),
    "JSON": ('{"rows": [1, 2, 3]}\n', "data/data.csv: not a CSV file (it looks like JSON)"),
    "one column of text": ("hello world\nbye\n", "data/data.csv: not a valid CSV file"),
    "ragged CSV": ("a,b,target\n1,2,x\n1,2,3,4,5\n", "data/data.csv: not a valid CSV file"),
    "missing target": ("age,label\n1,a\n2,b\n", "data/data.csv: target column 'target'"),
    "non-numeric": (
        "age,target\n1,a\n2,b\nold,a\n4,b\n5,a\n6,b\n7,a\n8,b\n",
        "data/data.csv: column 'age': non-numeric value 'old' at line 4",
        {"numeric_features": ["age"]},
    ),
    "an infinite number": (
        "age,target\n1,a\n2,b\ninf,a\n4,b\n5,a\n6,b\n7,a\n8,b\n",
        "data/data.csv: column 'age': infinite value inf at line 4",
    ),
    "missing target values": (
        "age,target\n1,a\n2,\n3,b\n4,a\n5,b\n6,\n",
        "data/data.csv: column 'target': 2 missing target value(s), first at line 3",
    ),
    "single class": (
        "age,target\n1,a\n2,a\n3,a\n4,a\n",
        "data/data.csv: column 'target': only one class ('a')",
    ),
    "too few rows": (
        "age,target\n1,a\n2,b\n3,a\n4,b\n",
        "data/data.csv: too few rows to split: 4 row(s) with data.test_size 0.25 leave 3 train "
        "and 1 test rows, fewer than the 2 classes",
    ),
    "a class of one row": (
        "age,target\n1,a\n2,b\n3,a\n4,b\n5,c\n6,a\n7,b\n8,a\n",
        "class 'c' has 1 row; a stratified split needs at least 2 per class",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_fails_clearly_and_keeps_earlier_artifacts(trained: Path, case: str) -> None:
    content, message, *data_params = BAD_INPUTS[case]
    if data_params:
        raw = yaml.safe_load(trained.read_text(encoding="utf-8"))
        raw["data"].update(data_params[0])
        trained.write_text(yaml.safe_dump(raw), encoding="utf-8")
    artifacts = trained.parent / "artifacts"
    before = _snapshot(artifacts)
    data_file = trained.parent / "data" / "data.csv"
    if content is None:
        data_file.unlink()
    elif isinstance(content, bytes):
        data_file.write_bytes(content)
    else:
        data_file.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        _train(trained)
    assert message in str(info.value)
    assert _snapshot(artifacts) == before
    assert [p.name for p in artifacts.iterdir() if p.name.startswith(".")] == []


def test_missing_feature_column_is_named(
    trained: Path, base_params: Callable[..., dict[str, Any]], make_frame: Callable[..., Any]
) -> None:
    params = parse_params(base_params(data={"numeric_features": ["age", "height"]}))
    with pytest.raises(DataError, match=r"column 'height' \(data\.numeric_features in params\)"):
        run_training(params, trained.parent)


def test_regression_rejects_a_text_target(
    make_project: Callable[..., Path], base_params: Callable[..., dict[str, Any]]
) -> None:
    csv = "x,target\n" + "".join(f"{i},{i}\n" for i in range(9)) + "9,lots\n"
    params_file = make_project(base_params("regression"), csv_text=csv)
    with pytest.raises(DataError, match="non-numeric target 'lots' at line 11"):
        _train(params_file)


def test_failure_after_fitting_leaves_previous_artifacts(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    artifacts = trained.parent / "artifacts"
    before = _snapshot(artifacts)

    def broken(*args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("disk full while plotting")

    monkeypatch.setattr(evaluate, "write_plots", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        _train(trained)
    assert _snapshot(artifacts) == before
    assert [p.name for p in artifacts.iterdir() if p.name.startswith(".")] == []


def test_a_second_run_replaces_all_artifacts(trained: Path, make_frame: Callable[..., Any]) -> None:
    artifacts = trained.parent / "artifacts"
    before = json.loads((artifacts / "lineage.json").read_text(encoding="utf-8"))
    make_frame(rows=120, seed=3).to_csv(trained.parent / "data" / "data.csv", index=False)
    _train(trained)
    after = json.loads((artifacts / "lineage.json").read_text(encoding="utf-8"))
    assert after["data"]["sha256"] != before["data"]["sha256"]
    assert after["model"]["sha256"] == sha256_file(artifacts / "model.joblib")
    assert sorted(p.name for p in (artifacts / "plots").iterdir()) == sorted(
        PLOTS["classification"]
    )


def test_frame_with_no_features(
    make_project: Callable[..., Path], base_params: Callable[..., dict[str, Any]]
) -> None:
    params_file = make_project(base_params(), frame=pd.DataFrame({"id": [1, 2], "target": [0, 1]}))
    raw = base_params(data={"exclude": ["id"]})
    params_file.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(DataError, match="no feature columns besides the target 'target'"):
        _train(params_file)


def test_a_worker_count_beyond_the_machine_trains_with_its_cpus(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """n_jobs: 100000 once started a process per worker until memory ran out."""
    from {{ cookiecutter.module_name }}.cli import main
    from {{ cookiecutter.module_name }}.config import available_cpus

    model = {"type": "random_forest", "params": {"n_estimators": 10, "n_jobs": 100_000}}
    params_file = make_project(base_params(model=model), frame=make_frame(rows=100))
    assert main(["train", "--params", str(params_file)]) == 0
    cpus = available_cpus()
    assert f"model.params.n_jobs: 100000 is more than the {cpus} CPUs here: {cpus}" in (
        capsys.readouterr().out
    )
    fitted = joblib.load(params_file.parent / "artifacts" / "model.joblib")
    assert fitted.named_steps["model"].n_jobs == cpus
