from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

from {{ cookiecutter.module_name }}.pipeline.features import build_preprocessor

pytestmark = pytest.mark.code

numbers = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False, width=32))
words = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", "é", ""]))


def test_numeric_only() -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": [0.5, 0.1, np.nan, 0.2]})
    out = build_preprocessor(["a", "b"], []).fit_transform(frame)
    assert out.shape == (4, 2)
    assert np.isfinite(out).all()
    assert np.allclose(out.mean(axis=0), 0)


def test_mixed_columns_one_hot_and_unknown_categories_are_ignored() -> None:
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0], "city": ["a", "b", None]})
    pre = build_preprocessor(["x"], ["city"]).fit(train)
    out = pre.transform(pd.DataFrame({"x": [2.0], "city": ["never seen"]}))
    assert out.shape == (1, 1 + 3)  # a, b and the missing-value category
    assert out[0, 1:].tolist() == [0.0, 0.0, 0.0]


@settings(max_examples=30, deadline=None)
@given(
    frame=data_frames(
        [
            column("n1", elements=numbers),
            column("n2", elements=numbers),
            column("c1", elements=words),
            column("c2", elements=words),
        ],
        index=range_indexes(min_size=1, max_size=30),
    )
)
def test_output_is_finite_and_as_wide_as_the_encoding(frame: pd.DataFrame) -> None:
    frame = frame.astype({"n1": float, "n2": float, "c1": object, "c2": object})
    pre = build_preprocessor(["n1", "n2"], ["c1", "c2"])
    out = pre.fit_transform(frame)
    numeric_width = 2  # an all-missing numeric column is kept (imputed as 0)
    categorical_width = sum(frame[c].fillna("__missing__").nunique() for c in ["c1", "c2"])
    assert out.shape == (len(frame), numeric_width + categorical_width)
    assert np.isfinite(out).all()
