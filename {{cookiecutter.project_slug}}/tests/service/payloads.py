"""Hypothesis strategies of request payloads, shared by the in-process and real-server tests."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

from {{ cookiecutter.module_name }}.serving import schema


def _value(feature: Mapping[str, Any]) -> st.SearchStrategy[object]:
    if feature["kind"] == "numeric":
        low, high = schema.numeric_bounds(feature)
        values: st.SearchStrategy[object] = st.floats(
            min_value=low, max_value=high, allow_nan=False, allow_infinity=False
        )
    elif feature.get("categories"):
        values = st.sampled_from(feature["categories"])
    else:
        values = st.text(max_size=10)
    return st.one_of(st.none(), values) if (feature.get("missing") or 0) > 0 else values


def records(features: Sequence[Mapping[str, Any]]) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries({f["name"]: _value(f) for f in features})


def _bad_value(feature: Mapping[str, Any]) -> st.SearchStrategy[object]:
    if feature["kind"] == "numeric":
        low, high = schema.numeric_bounds(feature)
        bad = [st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.text(max_size=5),
               st.booleans(), st.lists(st.integers(), max_size=2)]  # fmt: skip
        if high is not None and low is not None:
            bad.append(st.floats(min_value=high + abs(high - low) + 1, allow_infinity=False))
        if not (feature.get("missing") or 0) > 0:
            bad.append(st.none())
        return st.one_of(bad)
    known = feature.get("categories") or []
    unknown = st.text(max_size=8).filter(lambda v: v not in known)
    return st.one_of(unknown, st.integers(), st.floats()) if known else st.integers()


@st.composite
def bad_bodies(draw: st.DrawFn, features: Sequence[Mapping[str, Any]]) -> str:
    rows = draw(st.lists(records(features), min_size=1, max_size=5))
    index = draw(st.integers(0, len(rows) - 1))
    kind = draw(st.sampled_from(["drop", "extra", "value", "empty", "shape"]))
    if kind == "drop":
        rows[index].pop(draw(st.sampled_from(sorted(rows[index]))))
    elif kind == "extra":
        names = {f["name"] for f in features}
        rows[index][draw(st.text(min_size=1, max_size=8).filter(lambda n: n not in names))] = 1
    elif kind == "value":
        feature = draw(st.sampled_from(features))
        rows[index][feature["name"]] = draw(_bad_value(feature))
    elif kind == "empty":
        return json.dumps({"records": []})
    else:
        return json.dumps(draw(st.sampled_from([rows, {"rows": rows}, {"records": rows[0]}])))
    return json.dumps({"records": rows})  # NaN/Infinity go out as JS literals, as some clients do
