"""The request schema derived from a lineage record: policy for numbers, categories, nulls."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from {{ cookiecutter.module_name }}.pipeline.features import rows_frame
from {{ cookiecutter.module_name }}.serving import schema
from {{ cookiecutter.module_name }}.serving.inference import Inference

pytestmark = pytest.mark.service

FEATURES: list[dict[str, Any]] = [
    {"name": "mean radius", "kind": "numeric", "dtype": "float64", "min": 0.0, "max": 10.0,
     "missing": 0.0},
    {"name": "age", "kind": "numeric", "dtype": "int64", "min": 18, "max": 90, "missing": 0.1},
    {"name": "city", "kind": "categorical", "dtype": "object", "categories": ["oslo", "rome"],
     "missing": 0.0},
    {"name": "code", "kind": "categorical", "dtype": "int64", "categories": [1, 2],
     "missing": 0.0},
    {"name": "free", "kind": "categorical", "dtype": "object", "categories": None,
     "missing": 0.0},
]  # fmt: skip
VALID = {"mean radius": 5.0, "age": 40, "city": "oslo", "code": 1, "free": "anything"}
Record = schema.record_model(FEATURES)


def test_example_record_is_valid() -> None:
    record = schema.example_record(FEATURES)
    assert Record.model_validate(record)
    assert record["mean radius"] == 5.0
    assert record["city"] == "oslo"


def test_numeric_bounds_widen_the_training_range_by_the_margin() -> None:
    low, high = schema.numeric_bounds(FEATURES[0])
    assert (low, high) == (-10 * schema.NUMERIC_MARGIN, 10 + 10 * schema.NUMERIC_MARGIN)
    assert schema.numeric_bounds({"min": 3.0, "max": 3.0}) == (
        3 - 3 * schema.NUMERIC_MARGIN,
        3 + 3 * schema.NUMERIC_MARGIN,
    )
    assert schema.numeric_bounds({"min": None, "max": None}) == (None, None)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("mean radius", math.nan, "finite_number"),
        ("mean radius", math.inf, "finite_number"),
        ("mean radius", "5.0", "float_type"),
        ("mean radius", True, "float_type"),
        ("mean radius", None, "float_type"),
        ("mean radius", 1e6, "less_than_equal"),
        ("mean radius", -1e6, "greater_than_equal"),
        ("city", "paris", "literal_error"),
        ("city", None, "literal_error"),
        ("code", "1", "literal_error"),
        ("free", 3, "string_type"),
    ],
)
def test_invalid_values_are_rejected_with_the_field_name(
    field: str, value: object, error: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Record.model_validate({**VALID, field: value})
    (detail,) = info.value.errors()
    assert detail["type"] == error
    assert detail["loc"] == (field,)


def test_missing_and_extra_fields_are_rejected() -> None:
    incomplete = {k: v for k, v in VALID.items() if k != "city"}
    with pytest.raises(ValidationError, match="city"):
        Record.model_validate(incomplete)
    with pytest.raises(ValidationError, match="extra"):
        Record.model_validate({**VALID, "colour": "red"})


def test_extra_fields_ignore_drops_what_the_model_does_not_use() -> None:
    Lenient = schema.record_model(FEATURES, extra="ignore")
    row = Lenient.model_validate({**VALID, "id": 17, "target": 1})  # a whole row of a table
    frame = rows_frame(schema.record_rows([row], FEATURES), FEATURES)
    assert list(frame.columns) == [f["name"] for f in FEATURES]
    assert frame.iloc[0]["city"] == "oslo"
    with pytest.raises(ValidationError, match="city"):  # features stay required
        Lenient.model_validate({k: v for k, v in VALID.items() if k != "city"})


def test_null_is_accepted_only_where_training_data_had_missing_values() -> None:
    assert Record.model_validate({**VALID, "age": None})
    frame = rows_frame(
        schema.record_rows([Record.model_validate({**VALID, "age": None})], FEATURES), FEATURES
    )
    assert math.isnan(frame["age"].to_numpy()[0])


def test_missing_categories_become_nan() -> None:
    features = [{**FEATURES[2], "missing": 0.2}]
    model = schema.record_model(features)
    records = [model.model_validate({"city": None}), model.model_validate({"city": "rome"})]
    frame = rows_frame(schema.record_rows(records, features), features)
    assert frame["city"].isna().tolist() == [True, False]


def test_records_become_a_frame_in_training_column_order() -> None:
    records = [Record.model_validate(VALID), Record.model_validate({**VALID, "code": 2})]
    frame = rows_frame(schema.record_rows(records, FEATURES), FEATURES)
    assert list(frame.columns) == [f["name"] for f in FEATURES]
    assert frame["age"].dtype == np.float64
    assert frame["code"].tolist() == [1, 2]


def test_bad_lineage_features_are_reported() -> None:
    with pytest.raises(ValueError, match="no features"):
        schema.record_model([])
    with pytest.raises(ValueError, match="unknown kind"):
        schema.record_model([{"name": "x", "kind": "text"}])
    with pytest.raises(ValueError, match="unknown task"):
        schema.prediction_model("ranking")


def _fit(estimator: BaseEstimator) -> tuple[Pipeline, pd.DataFrame]:
    frame = pd.DataFrame({"x": np.linspace(0, 1, 40), "city": ["oslo", "rome"] * 20})
    target = (
        (frame["x"] > 0.5).astype(int)
        if isinstance(estimator, LogisticRegression)
        else (frame["x"] * 3)
    )
    preprocess = ColumnTransformer(
        [("num", StandardScaler(), ["x"]), ("cat", OneHotEncoder(), ["city"])]
    )
    return Pipeline([("preprocess", preprocess), ("estimator", estimator)]).fit(
        frame, target
    ), frame


FIT_FEATURES = [
    {"name": "x", "kind": "numeric", "min": 0.0, "max": 1.0, "missing": 0.0},
    {"name": "city", "kind": "categorical", "categories": ["oslo", "rome"], "missing": 0.0},
]


def _answers(pipeline: Pipeline, frame: pd.DataFrame, task: str) -> list[dict[str, Any]]:
    inference = Inference(pipeline, FIT_FEATURES, task)
    assert inference.compiled is None  # not features.py's preprocessor: scikit-learn runs it
    assert inference.refused is not None
    assert inference.preprocessing == f"scikit-learn (not compiled: {inference.refused})"
    return inference.answers(frame.to_numpy(dtype=object).tolist())


def test_classification_predictions_have_labels_and_probabilities() -> None:
    pipeline, frame = _fit(LogisticRegression())
    out = _answers(pipeline, frame, "classification")
    model = schema.prediction_model("classification", [0, 1])
    assert [o["prediction"] for o in out] == np.asarray(pipeline.predict(frame)).tolist()
    assert all(set(o["probabilities"]) == {"0", "1"} for o in out)
    assert all(math.isclose(sum(o["probabilities"].values()), 1.0) for o in out)
    assert all(model.model_validate(o) for o in out)


def test_regression_predictions_are_numbers() -> None:
    pipeline, frame = _fit(Ridge())
    out = _answers(pipeline, frame, "regression")
    model = schema.prediction_model("regression")
    assert [o["prediction"] for o in out] == pytest.approx(
        np.asarray(pipeline.predict(frame)).tolist()
    )
    assert all(model.model_validate(o) for o in out)
