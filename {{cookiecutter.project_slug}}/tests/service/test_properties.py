"""Generated payloads against the service's HTTP app: never a 5xx, and right answers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from payloads import bad_bodies, records  # tests/service/payloads.py, shared with test_server

from {{ cookiecutter.module_name }}.serving import schema

pytestmark = pytest.mark.service

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _post(client: Any, body: str) -> Any:
    return client.post("/predict", content=body, headers={"content-type": "application/json"})


def test_valid_batches_get_the_pipelines_predictions(
    client: Any, lineage: dict[str, Any], pipeline: Any
) -> None:
    features = lineage["data"]["features"]

    @SETTINGS
    @given(rows=st.lists(records(features), min_size=1, max_size=20))
    def check(rows: list[dict[str, Any]]) -> None:
        response = _post(client, json.dumps({"records": rows}))
        assert response.status_code == 200, response.text[:500]
        frame = pd.DataFrame(rows, columns=[f["name"] for f in features])
        numeric = [f["name"] for f in features if f["kind"] == "numeric"]
        frame[numeric] = frame[numeric].astype(float)
        got = [p["prediction"] for p in response.json()]
        expected = pipeline.predict(frame).tolist()
        if lineage["task"] == "classification":
            assert got == expected
        else:
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)

    check()


def test_invalid_payloads_get_a_4xx_never_a_5xx(client: Any, lineage: dict[str, Any]) -> None:
    features = lineage["data"]["features"]

    @SETTINGS
    @given(body=st.one_of(bad_bodies(features), st.text(max_size=30)))
    def check(body: str) -> None:
        response = _post(client, body)
        if body.strip() and _is_valid(body, features):
            return  # the generator made a valid body by chance (e.g. text that is valid JSON)
        assert 400 <= response.status_code < 500, (body[:300], response.text[:300])
        assert response.json(), "the error response explains the problem"

    check()


def _is_valid(body: str, features: Sequence[Mapping[str, Any]]) -> bool:
    Record = schema.record_model(features)
    try:
        rows = json.loads(body)["records"]
        return 1 <= len(rows) <= schema.MAX_RECORDS and all(
            Record.model_validate(row) for row in rows
        )
    except Exception:  # any failure means the body is invalid
        return False
