"""The service in process: its methods called directly, and its HTTP app without a socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.serving import schema

pytestmark = pytest.mark.service


def _frame(records: Sequence[Mapping[str, Any]], lineage: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(records, columns=[f["name"] for f in lineage["data"]["features"]])


def test_predict_matches_the_pipeline(
    service: ModuleType, predictor: Any, pipeline: Any, lineage: dict[str, Any]
) -> None:
    rows = service.EXAMPLE_RECORDS * 3
    out = asyncio.run(predictor.predict([service.Record.model_validate(r) for r in rows]))
    expected = pipeline.predict(_frame(rows, lineage)).tolist()
    if lineage["task"] == "classification":
        assert [o["prediction"] for o in out] == expected
        probabilities = pipeline.predict_proba(_frame(rows, lineage)).tolist()
        classes = [str(c) for c in pipeline.classes_.tolist()]
        got = [[o["probabilities"][c] for c in classes] for o in out]
        # equal up to rounding: the service's frame may differ in memory layout, not in values
        assert got == [pytest.approx(row, rel=1e-9, abs=1e-12) for row in probabilities]
    else:
        assert [o["prediction"] for o in out] == pytest.approx(expected)
        assert all(set(o) == {"prediction"} for o in out)


def test_metadata_reports_the_lineage(predictor: Any, lineage: dict[str, Any]) -> None:
    meta = predictor.metadata()
    assert meta.lineage == lineage
    assert meta.task == lineage["task"]
    assert meta.metrics == lineage["metrics"]
    assert meta.model_tag.startswith(f"{schema.__name__.split('.')[0]}:")


def test_http_predict_and_metadata(
    client: Any, service: ModuleType, pipeline: Any, lineage: dict[str, Any]
) -> None:
    response = client.post("/predict", json={"records": service.EXAMPLE_RECORDS})
    assert response.status_code == 200, response.text
    expected = pipeline.predict(_frame(service.EXAMPLE_RECORDS, lineage)).tolist()
    assert [o["prediction"] for o in response.json()] == pytest.approx(expected)
    response = client.post("/metadata", json={})
    assert response.status_code == 200
    assert response.json()["lineage"]["data"]["sha256"] == lineage["data"]["sha256"]


@pytest.mark.parametrize("route", ["/livez", "/readyz"])  # /metrics: see test_server.py
def test_builtin_routes(client: Any, route: str) -> None:
    assert client.get(route).status_code == 200


def _first(lineage: dict[str, Any], kind: str) -> Mapping[str, Any] | None:
    return next((f for f in lineage["data"]["features"] if f["kind"] == kind), None)


def _bad_bodies(example: Mapping[str, Any], lineage: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(case id, raw JSON body, text the error must mention)."""
    numeric, categorical = _first(lineage, "numeric"), _first(lineage, "categorical")
    name = next(iter(example))
    bodies = [
        ("empty list", {"records": []}, "at least 1"),
        ("oversized", {"records": [example] * (schema.MAX_RECORDS + 1)}, "at most"),
        ("no records key", {"rows": [example]}, "records"),
        ("not a list", {"records": example}, "list"),
        ("missing field", {"records": [{k: v for k, v in example.items() if k != name}]}, name),
        ("extra field", {"records": [{**example, "not_a_feature": 1}]}, "not_a_feature"),
    ]
    if numeric:
        field = numeric["name"]
        bodies += [
            ("string number", {"records": [{**example, field: "1.0"}]}, field),
            ("boolean", {"records": [{**example, field: True}]}, field),
            ("far out of range", {"records": [{**example, field: 1e300}]}, field),
        ]
    if categorical and categorical.get("categories"):
        field = categorical["name"]
        bodies.append(("unknown category", {"records": [{**example, field: "??"}]}, field))
    raw = [(case, json.dumps(body), text) for case, body, text in bodies]
    if numeric:
        for literal in ("NaN", "Infinity", "-Infinity"):
            record = json.dumps({**example, numeric["name"]: "@@"}).replace('"@@"', literal)
            raw.append((literal, '{"records": [' + record + "]}", numeric["name"]))
    raw += [
        ("malformed JSON", '{"records": [', "JSON"),
        ("not JSON", "records=1", "JSON"),
        ("JSON null", "null", "object"),
    ]
    return raw


def test_bad_requests_get_400_with_a_useful_message(
    client: Any, service: ModuleType, lineage: dict[str, Any]
) -> None:
    for case, body, text in _bad_bodies(service.EXAMPLE_RECORDS[0], lineage):
        response = client.post(
            "/predict", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (case, response.status_code, response.text[:300])
        assert text.lower() in response.text.lower(), (case, response.text[:300])
