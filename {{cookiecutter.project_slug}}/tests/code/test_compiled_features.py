"""The compiled preprocessor computes scikit-learn's numbers, bit for bit, or refuses to exist.

The project's own data (whatever params.yaml names), real data with missing numbers and missing
categories (the penguins, tests/service/data) and a generated mixed frame; rows drawn across and
beyond each training range, unseen categories and ``None`` anywhere. Every pipeline this module
does not recognise is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from {{ cookiecutter.module_name }}.config import load_params, parse_params
from {{ cookiecutter.module_name }}.data import load_dataset
from {{ cookiecutter.module_name }}.pipeline import compiled_features
from {{ cookiecutter.module_name }}.pipeline.compiled_features import NotCompilable, compile_preprocessor
from {{ cookiecutter.module_name }}.pipeline.features import build_preprocessor, rows_frame
from {{ cookiecutter.module_name }}.pipeline.lineage import feature_schema
from {{ cookiecutter.module_name }}.pipeline.train import build_pipeline

pytestmark = pytest.mark.code

PENGUINS = Path(__file__).parents[1] / "service" / "data" / "penguins.csv"
#: A fitted pipeline and its lineage feature records.
Fitted = tuple[Pipeline, list[dict[str, Any]]]


@pytest.fixture(scope="module", params=["project", "penguins", "synthetic"])
def fitted(
    request: pytest.FixtureRequest,
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., pd.DataFrame],
    project_params_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Fitted:
    if request.param == "project":
        params = load_params(project_params_file)
        dataset = load_dataset(params, project_params_file.parent)
        sample = dataset.frame.sample(min(len(dataset.frame), 5000), random_state=0).index
        X, y = dataset.X.loc[sample], dataset.y.loc[sample]  # a large dataset stays quick to test
        pipeline = build_pipeline(params, dataset).fit(X, y)
        features = feature_schema(dataset)
        try:
            compile_preprocessor(pipeline, features)
        except NotCompilable as why:  # the service keeps scikit-learn for this data: see why
            pytest.skip(f"the project's preprocessing is not compiled: {why}")
        return pipeline, features
    if request.param == "penguins":
        folder, data = PENGUINS.parent, {"path": PENGUINS.name, "target": "species"}
    else:
        folder = tmp_path_factory.mktemp("synthetic")
        frame = make_frame(rows=120)
        frame.loc[::7, "income"] = np.nan  # missing values in both kinds of column
        frame.loc[::5, "city"] = None
        frame.to_csv(folder / "data.csv", index=False)
        data = {"path": "data.csv", "target": "target"}
    params = parse_params(base_params(data={**data, "test_size": 0.2}))
    dataset = load_dataset(params, folder)
    return build_pipeline(params, dataset).fit(dataset.X, dataset.y), feature_schema(dataset)


def _value(feature: Mapping[str, Any]) -> st.SearchStrategy[object]:
    if feature["kind"] == "numeric":
        low, high = float(feature["min"]), float(feature["max"])
        span = max(high - low, 1.0)
        value: st.SearchStrategy[object] = st.floats(
            low - span, high + span, allow_nan=False, allow_infinity=False
        )
    else:
        value = st.one_of(st.sampled_from(feature["categories"]), st.text(max_size=4))
    return st.one_of(st.none(), value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_output_is_scikit_learns_bit_for_bit(fitted: Fitted, data: st.DataObject) -> None:
    pipeline, features = fitted
    compiled = compile_preprocessor(pipeline, features)
    rows = data.draw(st.lists(st.tuples(*map(_value, features)).map(list), min_size=1, max_size=9))
    expected = pipeline[:-1].transform(rows_frame(rows, features))
    got = compiled.transform(rows)
    assert got.dtype == expected.dtype == np.float64
    np.testing.assert_array_equal(got, expected)


def test_probe_rows_reach_every_category_the_unseen_one_and_all_missing(fitted: Fitted) -> None:
    _, features = fitted
    probes = compiled_features.probe_rows(features)
    assert probes[-1] == [None] * len(features)
    for i, feature in enumerate(features):
        seen = {row[i] for row in probes}
        if feature["kind"] == "categorical":
            assert seen >= {*feature["categories"], compiled_features.UNSEEN}
        else:
            assert seen >= {float(feature["min"]), float(feature["max"])}


def test_a_result_one_ulp_off_is_refused(fitted: Fitted, monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline, features = fitted
    exact = compiled_features.CompiledFeatures.transform

    def off_by_one_ulp(self: compiled_features.CompiledFeatures, rows: Any) -> Any:
        values = exact(self, rows)
        values[0, 0] = np.nextafter(values[0, 0], np.inf)
        return values

    monkeypatch.setattr(compiled_features.CompiledFeatures, "transform", off_by_one_ulp)
    with pytest.raises(NotCompilable, match="differs from scikit-learn"):
        compile_preprocessor(pipeline, features)


def _mixed() -> tuple[pd.DataFrame, list[int], list[dict[str, Any]]]:
    frame = pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0] * 5, "city": ["a", "b", None, "a"] * 5})
    features = [
        {"name": "x", "kind": "numeric", "min": 1.0, "max": 4.0, "missing": 0.25},
        {"name": "city", "kind": "categorical", "categories": ["a", "b"], "missing": 0.25},
    ]
    return frame, [0, 1] * 10, features


def _pipeline(preprocessor: Any, *extra: Any) -> Pipeline:
    frame, target, _ = _mixed()
    steps = [("preprocess", preprocessor), *extra, ("model", LogisticRegression())]
    return Pipeline(steps).fit(frame, target)


def _refused(pipeline: Pipeline, match: str, features: list[dict[str, Any]] | None = None) -> None:
    with pytest.raises(NotCompilable, match=match):
        compile_preprocessor(pipeline, features or _mixed()[2])


def test_features_pys_own_preprocessor_compiles() -> None:
    compiled = compile_preprocessor(_pipeline(build_preprocessor(["x"], ["city"])), _mixed()[2])
    assert [type(block).__name__ for block in compiled.blocks] == [
        "NumericBlock",
        "CategoricalBlock",
    ]


def test_other_preprocessors_are_refused_with_the_reason() -> None:
    numeric = Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                        ("scale", StandardScaler())])  # fmt: skip
    _refused(_pipeline(ColumnTransformer([("n", numeric, ["x"])])), "'n': imputer is not median")
    _refused(
        _pipeline(ColumnTransformer([("n", SimpleImputer(), ["x"])])),
        r"'n': steps \[\] are not features.py's",  # a bare transformer, not a Pipeline
    )
    minmax = Pipeline([("impute", SimpleImputer()), ("scale", MinMaxScaler())])
    _refused(
        _pipeline(ColumnTransformer([("n", minmax, ["x"])])),
        r"'n': steps \['SimpleImputer', 'MinMaxScaler'\]",
    )
    _refused(
        _pipeline(build_preprocessor(["x"], []), ("scale", StandardScaler())),
        "not a two-step pipeline",
    )
    rare = build_preprocessor(["x"], ["city"])
    rare.set_params(categorical__onehot__min_frequency=6)  # infrequent categories merge
    _refused(_pipeline(rare), "'categorical': not features.py's categorical steps")


def test_a_missing_fitted_value_is_refused_not_a_crash() -> None:
    pipeline = _pipeline(build_preprocessor(["x"], ["city"]))
    del pipeline[0].named_transformers_["numeric"][0].statistics_
    _refused(pipeline, "a fitted value is missing: .*statistics_")


def test_categories_that_are_not_strings_are_refused() -> None:
    frame = pd.DataFrame({"code": [1, 2, 1, 2] * 5})
    pipeline = Pipeline([("preprocess", build_preprocessor([], ["code"])),
                         ("model", LogisticRegression())]).fit(frame, [0, 1] * 10)  # fmt: skip
    features = [{"name": "code", "kind": "categorical", "categories": [1, 2], "missing": 0.0}]
    _refused(pipeline, "a category is not a string", features)


def test_columns_that_are_not_the_features_by_name_are_refused() -> None:
    pipeline = _pipeline(build_preprocessor(["x"], ["city"]))
    renamed = [{**f, "name": f"{f['name']}_renamed"} for f in _mixed()[2]]
    _refused(pipeline, "selects columns that are not the features", renamed)
    numeric = Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                        ("scale", StandardScaler())])  # fmt: skip
    by_position = _pipeline(ColumnTransformer([("numeric", numeric, slice(0, 1))]))
    _refused(by_position, "'numeric' selects columns that are not the features by name")


def test_a_string_with_a_trailing_nul_is_its_own_category() -> None:
    pipeline = _pipeline(build_preprocessor(["x"], ["city"]))
    features = _mixed()[2]
    features[1] = {**features[1], "categories": None}  # too many to list: any string is valid
    rows = [[2.0, "a\x00"], [2.0, "a"]]  # no missing value in the batch
    frame = rows_frame(rows, features)
    assert frame["city"].tolist() == ["a\x00", "a"]
    got = compile_preprocessor(pipeline, features).transform(rows)
    np.testing.assert_array_equal(got, pipeline[:-1].transform(frame))
    assert got[0, 1:].tolist() == [0.0, 0.0, 0.0]  # unseen, unlike "a"
