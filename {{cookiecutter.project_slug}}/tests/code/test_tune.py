"""Tuning: the search space in params, CV on the training split only, shared studies, --apply."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.module_name }}.config import load_params, parse_params
from {{ cookiecutter.module_name }}.data import load_dataset, split
from {{ cookiecutter.module_name }}.errors import ConfigError
from {{ cookiecutter.module_name }}.pipeline import tune

pytestmark = pytest.mark.code

SPACE = {"logistic_regression": {"C": {"type": "float", "low": 0.01, "high": 10.0, "log": True}}}
TUNE = {"trials": 4, "cv_folds": 3, "metric": "neg_log_loss", "space": SPACE}


@pytest.fixture
def project(
    make_project: Callable[..., Path],
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
) -> Path:
    return make_project(base_params(tune=TUNE), frame=make_frame(rows=160, seed=2))


def test_the_test_split_never_reaches_the_search(project: Path, tmp_path: Path) -> None:
    params = load_params(project)
    first = tune.tune(params, project.parent, tmp_path / "a", progress=lambda _: None)
    # Change every test row beyond recognition: the study must not notice.
    dataset = load_dataset(params, project.parent)
    _, x_test, _, _ = split(dataset, params.data.test_size, params.seed, stratify=True)
    frame = pd.read_csv(project.parent / params.data.path)
    frame.loc[x_test.index, "age"] = 1000.0
    frame.loc[x_test.index, "plan"] = "enterprise"
    frame.to_csv(project.parent / params.data.path, index=False)
    second = tune.tune(params, project.parent, tmp_path / "b", progress=lambda _: None)
    assert first.study != second.study  # the data changed: a new study, never a resumed one
    assert (second.best_value, second.best_params) == (first.best_value, first.best_params)
    assert first.complete + first.pruned == first.trials == 4


def test_two_processes_on_one_storage_share_one_study(project: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    command = [sys.executable, "-m", "{{ cookiecutter.module_name }}", "tune", "--params", str(project)]
    command += ["--storage", storage, "--trials", "8"]
    workers = [
        subprocess.Popen([*command, "--worker", str(n)], stdout=subprocess.PIPE, text=True)
        for n in (0, 1)
    ]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    [summary] = optuna.study.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    # MaxTrialsCallback stops each worker at the budget; a trial started meanwhile may add one.
    assert 8 <= len(study.trials) <= 9
    per_worker = [sum("] trial " in line for line in out.splitlines()) for out in outputs]
    assert sum(per_worker) == len(study.trials), outputs


PARAMS_TEXT = """\
task: classification
model:
  # the estimator
  type: logistic_regression
  params:
    C: 1.0  # inverse regularisation
    max_iter: 1000
behaviour:
  examples:
    - {name: one, features: {worst area: 2000.0, worst radius: 25.0, worst concave points: 0.25,
                             mean concave points: 0.15}, expected: 0}
"""


def test_apply_edits_only_the_tuned_lines_and_keeps_comments() -> None:
    text = tune.edit_model_params(PARAMS_TEXT, {"C": 0.12345678901, "tol": 0.001})
    lines, original = text.splitlines(), PARAMS_TEXT.splitlines()
    assert lines[5] == "    C: 0.123457  # inverse regularisation"
    assert lines[7] == "    tol: 0.001"
    assert lines[:5] + lines[6:7] + lines[8:] == original[:5] + original[6:]
    assert yaml.safe_load(text)["model"]["params"] == {
        "C": 0.123457,
        "max_iter": 1000,
        "tol": 0.001,
    }


def test_apply_handles_a_flow_style_or_missing_params_mapping() -> None:
    flow = PARAMS_TEXT.replace(
        "  params:\n    C: 1.0  # inverse regularisation\n    max_iter: 1000\n",
        "  params: {C: 1.0}\n",
    )
    assert yaml.safe_load(tune.edit_model_params(flow, {"C": 2.0}))["model"]["params"] == {"C": 2.0}
    bare = PARAMS_TEXT.replace(
        "  params:\n    C: 1.0  # inverse regularisation\n    max_iter: 1000\n", ""
    )
    edited = tune.edit_model_params(bare, {"C": 3.0})
    assert yaml.safe_load(edited)["model"]["params"] == {"C": 3.0}
    assert "# the estimator" in edited
    assert yaml.safe_load(edited)["behaviour"] == yaml.safe_load(PARAMS_TEXT)["behaviour"]


def test_apply_refuses_a_result_that_is_not_valid_params(project: Path) -> None:
    before = project.read_text()
    with pytest.raises(ConfigError, match=r"model\.params\.C"):
        tune.apply_best(project, {"C": -1.0})
    assert project.read_text() == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"space": {"ridge": {}}}, "tune.space.ridge: not a model type of task classification"),
        ({"space": {"logistic_regression": {"depth": {"type": "int", "low": 1, "high": 3}}}},
         "tune.space.logistic_regression.depth: not a hyperparameter of LogisticRegression"),
        ({"space": {"logistic_regression": {"C": {**SPACE["logistic_regression"]["C"], "low": 0}}}},
         "log scale needs low > 0"),
        ({"space": {"logistic_regression": {"C": {"type": "categorical"}}}}, "needs choices"),
        ({"metric": "roc-auc"}, "tune.metric: 'roc-auc' is not a scikit-learn scorer name"),
        ({"cv_folds": 1}, "tune.cv_folds: must be >= 2"),
    ],
)  # fmt: skip
def test_bad_tune_settings_are_refused_naming_the_key(
    base_params: Callable[..., dict[str, Any]], change: dict[str, Any], message: str
) -> None:
    raw = base_params(tune={**TUNE, **change})
    with pytest.raises(ConfigError) as error:
        parse_params(raw)
    assert message in str(error.value)


def test_a_model_type_without_a_space_is_refused(
    base_params: Callable[..., dict[str, Any]],
    make_project: Callable[..., Path],
    make_frame: Callable[..., Any],
    tmp_path: Path,
) -> None:
    params_file = make_project(base_params(tune={"space": {}}), frame=make_frame(rows=60))
    with pytest.raises(ConfigError, match=r"tune\.space\.logistic_regression: no search space"):
        tune.tune(load_params(params_file), params_file.parent, tmp_path / "art")
