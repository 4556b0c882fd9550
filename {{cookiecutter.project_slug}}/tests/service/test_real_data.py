"""Serving parity on real data with missing values: the service's record path is the pipeline.

The penguins data (tests/service/data/README.md) has missing numbers and missing categories.
A pipeline is trained on it here, whatever the project's own data is, and every valid record,
``null`` wherever training saw a missing value, must get from the service's code path
(validate -> record_rows -> Inference.answers, what ``Predictor.predict`` runs, with its
compiled preprocessing) exactly what the pipeline itself predicts for the same values, ``None``
or NaN alike: the same labels and the same probabilities, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.module_name }}.config import parse_params
from {{ cookiecutter.module_name }}.data import Dataset, load_dataset
from {{ cookiecutter.module_name }}.pipeline.lineage import feature_schema
from {{ cookiecutter.module_name }}.pipeline.train import build_pipeline
from {{ cookiecutter.module_name }}.serving import schema
from {{ cookiecutter.module_name }}.serving.inference import Inference

pytestmark = pytest.mark.service

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

DATA = Path(__file__).parent / "data" / "penguins.csv"
#: The penguins data, the pipeline fitted on it and its lineage feature records.
Penguins = tuple[Dataset, "Pipeline", list[dict[str, Any]]]


@pytest.fixture(scope="module")
def penguins(base_params: Callable[..., dict[str, Any]]) -> Penguins:
    params = parse_params(
        base_params(data={"path": DATA.name, "target": "species", "test_size": 0.2})
    )
    dataset = load_dataset(params, DATA.parent)
    pipeline = build_pipeline(params, dataset).fit(dataset.X, dataset.y)
    return dataset, pipeline, feature_schema(dataset)


def test_the_schema_says_what_became_a_feature(penguins: Penguins) -> None:
    dataset, _, features = penguins
    assert dataset.categorical == ["island", "sex"]
    assert {f["name"] for f in features if f["missing"] > 0} >= {"sex", "bill_length_mm"}


def _value(feature: Mapping[str, Any], column: pd.Series[Any]) -> st.SearchStrategy[object]:
    known = column.dropna().tolist()
    if feature["kind"] == "numeric":
        low, high = schema.numeric_bounds(feature)
        values = st.one_of(
            st.sampled_from(known),
            st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False),
        )
    else:
        values = st.sampled_from(feature["categories"])
    return st.one_of(st.none(), values) if feature["missing"] > 0 else values


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "scikit-learn"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_valid_record_gets_the_pipelines_prediction(
    penguins: Penguins, compiled: bool, data: st.DataObject
) -> None:
    dataset, pipeline, features = penguins
    names = [f["name"] for f in features]
    records = st.fixed_dictionaries(
        {f["name"]: _value(f, dataset.frame[f["name"]]) for f in features}
    )
    rows = data.draw(st.lists(records, min_size=1, max_size=12))
    Record = schema.record_model(features)
    inference = Inference(pipeline, features, "classification", compile_features=compiled)
    assert (inference.compiled is not None) == compiled, inference.preprocessing
    validated = [Record.model_validate(row) for row in rows]
    served = inference.answers(schema.record_rows(validated, features))
    # What a caller of the pipeline passes: the values as they are, None for missing.
    frame = pd.DataFrame(rows, columns=names)
    numeric = [f["name"] for f in features if f["kind"] == "numeric"]
    frame[numeric] = frame[numeric].astype(float)
    expected = pipeline.predict_proba(frame)
    assert [p["prediction"] for p in served] == np.asarray(pipeline.predict(frame)).tolist()
    got = np.array([[p["probabilities"][str(c)] for c in pipeline.classes_] for p in served])
    np.testing.assert_array_equal(got, expected)
    # None and NaN are one missing value to the pipeline.
    nan_frame = frame.astype(object).where(frame.notna(), math.nan)
    np.testing.assert_array_equal(pipeline.predict_proba(nan_frame), expected)
