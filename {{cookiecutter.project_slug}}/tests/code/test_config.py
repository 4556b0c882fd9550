from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from {{ cookiecutter.module_name }}.config import (
    MODELS,
    Params,
    available_cpus,
    cap_parallelism,
    load_params,
    parse_params,
)
from {{ cookiecutter.module_name }}.errors import ConfigError, PathError

pytestmark = pytest.mark.code


def _error(raw: object) -> str:
    with pytest.raises(ConfigError) as info:
        parse_params(raw)
    return str(info.value)


def test_project_params_file_is_valid(project_params_file: Path) -> None:
    params = load_params(project_params_file)
    assert params.task in MODELS
    assert params.model.type in MODELS[params.task]
    assert 0 < params.data.test_size < 1


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_minimal_params_parse(base_params: Callable[..., dict[str, Any]], task: str) -> None:
    params = parse_params(base_params(task))
    assert isinstance(params, Params)
    assert params.to_dict()["task"] == task
    assert params.data.numeric_features is None  # inferred from the data later


def test_gates_accept_thresholds_by_gate_name(base_params: Callable[..., dict[str, Any]]) -> None:
    params = parse_params(base_params(gates={"min_test_accuracy": 0.9, "max_feature_drift": 1}))
    assert params.gates.min_test_accuracy == 0.9
    assert params.gates.max_feature_drift == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"data": {"test_size": 1.5}},
            "params.yaml: data.test_size: must be > 0 and < 1 (got 1.5)",
        ),
        ({"data": {"test_size": 0}}, "params.yaml: data.test_size: must be > 0 and < 1 (got 0)"),
        ({"data": {"test_size": "0.2"}}, "params.yaml: data.test_size: must be a number"),
        ({"data": {"colour": "red"}}, "params.yaml: data.colour: unknown key"),
        ({"extra": 1}, "params.yaml: extra: unknown key"),
        ({"seed": -1}, "params.yaml: seed: must be >= 0 (got -1)"),
        ({"seed": "abc"}, "params.yaml: seed: must be an integer (got 'abc')"),
        ({"task": "clustering"}, "params.yaml: task: must be one of"),
        (
            {"gates": {"min_test_accuracy": "high"}},
            "params.yaml: gates.min_test_accuracy: must be a number",
        ),
        ({"data": {"path": ""}}, "params.yaml: data.path: must not be empty"),
        ({"serving": {"max_body_kb": 0}}, "params.yaml: serving.max_body_kb: must be >= 1"),
        ({"serving": {"extra_fields": "allow"}}, "params.yaml: serving.extra_fields: must be one"),
        (
            {"data": {"numeric_features": "age"}},
            "params.yaml: data.numeric_features: must be a list",
        ),
        (
            {"data": {"numeric_features": ["a", "a"]}},
            "params.yaml: data.numeric_features: column(s) listed twice: a",
        ),
        (
            {"data": {"numeric_features": ["a"], "categorical_features": ["a"]}},
            "numeric_features and categorical_features overlap: a",
        ),
        (
            {"data": {"categorical_features": ["target"]}},
            "data.categorical_features: must not contain the target column 'target'",
        ),
        (
            {"model": {"type": "ridge"}},
            "params.yaml: model.type: must be one of gradient_boosting, logistic_regression, "
            "random_forest for task classification (got 'ridge')",
        ),
        (
            {"model": {"type": "logistic_regression", "params": {"depth": 3}}},
            "params.yaml: model.params.depth: not a hyperparameter of LogisticRegression "
            "(valid: C,",
        ),
        (
            {"model": {"type": "logistic_regression", "params": {"C": -1.0}}},
            "params.yaml: model.params.C: must be a float in the range (0.0, inf] (got -1.0)",
        ),
        (
            {"model": {"type": "random_forest", "params": {"n_estimators": "many"}}},
            "params.yaml: model.params.n_estimators: must be an int in the range [1, inf) "
            "(got 'many')",
        ),
    ],
)
def test_invalid_values_name_the_key_and_the_rule(
    base_params: Callable[..., dict[str, Any]], change: dict[str, Any], message: str
) -> None:
    assert message in _error(base_params(**change))


def test_missing_section_is_reported(base_params: Callable[..., dict[str, Any]]) -> None:
    raw = base_params()
    del raw["model"]
    assert "params.yaml: model: required key is missing" in _error(raw)


def test_every_problem_is_listed_on_one_line(base_params: Callable[..., dict[str, Any]]) -> None:
    message = _error(base_params(seed="x", data={"test_size": 2}))
    assert "seed: must be an integer" in message
    assert "data.test_size: must be > 0 and < 1" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must be a mapping of keys to values (the file is empty)"),
        ("- a\n- b\n", "must be a mapping of keys to values (the file is a list)"),
        ("task: [unclosed\n", "invalid YAML at line 2"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"params\.yaml: ") as info:
        load_params(path)
    assert message in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found"):
        load_params(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("task", "model"),
    [(task, model) for task, models in MODELS.items() for model in models],
)
def test_every_model_type_has_a_valid_estimator(
    base_params: Callable[..., dict[str, Any]], task: str, model: str
) -> None:
    params = parse_params(base_params(task, model={"type": model, "params": {}}))
    assert params.model.type == model


def test_round_trip_through_yaml(
    tmp_path: Path, base_params: Callable[..., dict[str, Any]]
) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(base_params("regression")), encoding="utf-8")
    assert load_params(path).to_dict() == parse_params(base_params("regression")).to_dict()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("data", {"path": "../../etc/passwd"}),
        ("data", {"path": "/etc/passwd"}),
        ("data", {"path": "data/../../outside.csv"}),
        ("monitor", {"source": "/proc/self/environ"}),
        ("monitor", {"source": "../*/exports/*.csv"}),
    ],
)
def test_data_paths_must_resolve_inside_the_project(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    key: str,
    value: dict[str, str],
) -> None:
    params_file = make_project(base_params(), csv_text="a,target\n1,x\n")
    raw = yaml.safe_load(params_file.read_text())
    raw[key] = {**raw.get(key, {}), **value}
    params_file.write_text(yaml.safe_dump(raw))
    with pytest.raises(PathError) as info:
        load_params(params_file)
    message = str(info.value)
    assert message.startswith(f"{params_file}: {key}.")
    assert repr(next(iter(value.values()))) in message
    assert "outside the project" in message
    assert "data.external_dir" in message


def test_a_symlink_out_of_the_project_is_outside_it(
    make_project: Callable[..., Path], base_params: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    root = tmp_path / "project"
    params_file = make_project(base_params(data={"path": "data/link.csv"}), root=root)
    (tmp_path / "elsewhere.csv").write_text("a,target\n1,x\n")
    (root / "data" / "link.csv").symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(PathError, match=r"resolves to .*elsewhere\.csv, outside the project"):
        load_params(params_file)
    inside = root / "data" / "real.csv"
    inside.write_text("a,target\n1,x\n")
    (root / "data" / "link.csv").unlink()
    (root / "data" / "link.csv").symlink_to("real.csv")  # a link inside the project is fine
    assert load_params(params_file).data.path == "data/link.csv"


def test_data_outside_the_project_is_an_opt_in(
    make_project: Callable[..., Path], base_params: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    mount = tmp_path / "mnt" / "exports"
    mount.mkdir(parents=True)
    params = base_params(
        data={"path": str(mount / "train.csv"), "external_dir": str(mount)},
        monitor={"source": str(mount / "batches" / "*.csv")},
    )
    params_file = make_project(params, root=tmp_path / "project")
    loaded = load_params(params_file)
    assert loaded.data.external_dir == str(mount)
    raw = yaml.safe_load(params_file.read_text())
    raw["data"]["path"] = str(tmp_path / "mnt" / "other.csv")  # next to it is still outside
    params_file.write_text(yaml.safe_dump(raw))
    with pytest.raises(PathError, match=r"data\.path"):
        load_params(params_file)


def test_worker_counts_are_held_to_the_cpus_of_the_machine() -> None:
    cpus = available_cpus()
    capped, notes = cap_parallelism({"n_jobs": 100_000, "C": 1.0})
    assert capped == {"n_jobs": cpus, "C": 1.0}
    assert notes == [f"model.params.n_jobs: 100000 is more than the {cpus} CPUs here: {cpus}"]
    for fine in (None, -1, 1, cpus):
        assert cap_parallelism({"n_jobs": fine}) == ({"n_jobs": fine}, [])


def test_zero_workers_is_refused_naming_the_key(base_params: Callable[..., dict[str, Any]]) -> None:
    raw = base_params(model={"type": "logistic_regression", "params": {"n_jobs": 0}})
    assert "params.yaml: model.params.n_jobs: 0 starts no worker" in _error(raw)
