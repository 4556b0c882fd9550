"""One real `bentoml serve` on 127.0.0.1: answers, HTTP-level fuzzing, the published contract."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live import PACKAGE, ROOT, Server, fetch
from payloads import bad_bodies, records

pytestmark = [pytest.mark.service, pytest.mark.slow]

API_PATHS = ("/predict", "/metadata")
FUZZ_EXAMPLES = int(os.environ.get("HTTP_FUZZ_EXAMPLES") or 400)
"""Requests the fuzz sends (HTTP_FUZZ_EXAMPLES=1000 for a longer run: the template's demo does)."""
CONTENT_TYPES = [
    "application/json", "application/json; charset=utf-8", "Application/JSON; charset=UTF8",
    "application/json; charset=latin-1", "application/json; charset=utf-16", "multipart/form-data",
    "multipart/form-data; boundary=xyz", "application/x-www-form-urlencoded", "text/plain",
    "application/vnd.bentoml+pickle", "application/octet-stream", "application/json;;",
]  # fmt: skip
LITERALS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400, "true", "false",
            "null", '"1.5"', "[]", "{}", "1" + "0" * 5000]  # fmt: skip


@pytest.fixture(scope="module")
def document(server: Server) -> dict[str, Any]:
    status, text = fetch(f"{server.url}/docs.json")
    assert status == 200, text[:300]
    document: dict[str, Any] = json.loads(text)
    return document


def conforms(document: dict[str, Any], path: str, status: int, text: str) -> None:
    """Assert that /docs.json lists ``status`` for ``path`` and that ``text`` fits its schema."""
    responses = document["paths"][path]["post"]["responses"]
    assert str(status) in responses, f"{path} answered {status}, not in /docs.json: {text[:300]}"
    content = responses[str(status)].get("content", {}).get("application/json")
    if content is not None:
        schema = {**content["schema"], "components": document.get("components", {})}
        jsonschema.validate(json.loads(text), schema)


def send(
    port: int, path: str, body: bytes, headers: dict[str, str], chunked: bool = False
) -> tuple[int, str]:
    """POST raw bytes with exactly these headers (chunked: no Content-Length); (status, text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        payload = iter([body]) if chunked else body
        connection.request("POST", path, body=payload, headers=headers, encode_chunked=chunked)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


@st.composite
def literal_bodies(draw: st.DrawFn, features: Sequence[Mapping[str, Any]]) -> str:
    """A valid record with one numeric value replaced by a raw JSON literal (NaN, 1e400, ...)."""
    row = draw(records(features))
    numeric = [f["name"] for f in features if f["kind"] == "numeric"]
    if numeric:
        row[draw(st.sampled_from(numeric))] = "__LITERAL__"
    return json.dumps({"records": [row]}).replace('"__LITERAL__"', draw(st.sampled_from(LITERALS)))


def bodies(features: Sequence[Mapping[str, Any]]) -> st.SearchStrategy[str]:
    valid = st.lists(records(features), min_size=1, max_size=3).map(
        lambda rows: json.dumps({"records": rows})
    )
    deep = st.integers(1, 3000).map(lambda n: "[" * n + "]" * n)
    deep_records = st.integers(1, 1000).map(
        lambda n: '{"records": ' + '{"a": ' * n + "1" + "}" * (n + 1)
    )
    text = st.one_of(valid, bad_bodies(features), literal_bodies(features), deep, deep_records,
                     st.text(max_size=50))  # fmt: skip
    encoded = st.tuples(text, st.sampled_from(["utf-8", "latin-1", "utf-16"])).map(
        lambda pair: pair[0].encode(pair[1], errors="replace")
    )
    return st.one_of(encoded, st.binary(max_size=200))


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


def test_real_server(
    server: Server, service: ModuleType, pipeline: Any, lineage: dict[str, Any]
) -> None:
    import pandas as pd

    body = json.dumps({"records": service.EXAMPLE_RECORDS * 4})
    status, text = fetch(f"{server.url}/predict", body)
    assert status == 200, text
    frame = pd.DataFrame(
        service.EXAMPLE_RECORDS * 4, columns=[f["name"] for f in lineage["data"]["features"]]
    )
    assert [p["prediction"] for p in json.loads(text)] == pytest.approx(
        pipeline.predict(frame).tolist()
    )
    status, text = fetch(f"{server.url}/metadata", "{}")
    assert status == 200
    metadata = json.loads(text)
    assert metadata["lineage"] == lineage
    assert metadata["preprocessing"].startswith("compiled"), metadata["preprocessing"]
    for bad in ['{"records": []}', '{"records": [{"x": 1}]}', '{"records": [', "null"]:
        status, text = fetch(f"{server.url}/predict", bad)
        assert status == 400, (bad, status, text)
        assert json.loads(text)["error"]
    assert fetch(f"{server.url}/livez")[0] == 200
    status, text = fetch(f"{server.url}/metrics")
    assert status == 200
    assert "bentoml_service_request_total" in text


def test_access_log_and_tracing_are_off_by_default(server: Server, service: ModuleType) -> None:
    """serving.access_log/tracing default to off: BentoML logs no line and opens no span."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    body = json.dumps({"records": service.EXAMPLE_RECORDS})
    connection.request("POST", "/predict", body, {"content-type": "application/json"})
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 200
    # BentoML sets this header from the request's tracing span; no span, no header.
    assert response.getheader("x-bentoml-request-id") is None, response.getheaders()
    assert "path=/predict" not in server.log_text(), "an access log line"


def test_http_fuzz_never_5xx_and_every_answer_is_documented(
    server: Server, document: dict[str, Any], lineage: dict[str, Any]
) -> None:
    features = lineage["data"]["features"]

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(
        path=st.sampled_from(API_PATHS),
        body=bodies(features),
        content_type=st.one_of(st.none(), st.sampled_from(CONTENT_TYPES), header_text),
        encoding=st.one_of(st.none(), st.sampled_from(["gzip", "deflate", "br", "identity"])),
        accept=st.one_of(st.none(), header_text),
        chunked=st.booleans(),
    )
    def check(
        path: str,
        body: bytes,
        content_type: str | None,
        encoding: str | None,
        accept: str | None,
        chunked: bool,
    ) -> None:
        given = {"content-type": content_type, "content-encoding": encoding, "accept": accept}
        headers = {key: value for key, value in given.items() if value is not None}
        status, text = send(server.port, path, body, headers, chunked)
        assert status < 500, (path, headers, body[:200], status, text[:300])
        conforms(document, path, status, text)

    check()
    log = server.log_text()
    assert "Traceback" not in log, log[log.find("Traceback") - 300 :][:3000]
    assert re.search(r"client error: \d+ validation errors? for", log), "client errors: one line"


def test_error_answers_match_the_document(server: Server, document: dict[str, Any]) -> None:
    port = server.port
    status, text = send(port, "/predict", b'{"records": [', {"content-type": "application/json"})
    assert status == 400
    assert isinstance(json.loads(text)["detail"], list)
    conforms(document, "/predict", status, text)
    status, text = send(port, "/predict", b"x", {"content-type": "multipart/form-data"})
    assert status == 415
    conforms(document, "/predict", status, text)

    # A declared length past the limit is refused from the headers, before any body is read.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.putrequest("POST", "/predict")
        connection.putheader("content-type", "application/json")
        connection.putheader("content-length", str(10**9))
        connection.endheaders(b"{")
        response = connection.getresponse()
        status, text = response.status, response.read().decode()
    finally:
        connection.close()
    assert status == 413, text
    conforms(document, "/predict", status, text)

    # A chunked body (no declared length) is cut off as soon as it passes the limit.
    said = re.search(r"larger than (\d+)", text)
    assert said, text
    limit = int(said.group(1))
    status, text = send(port, "/predict", b" " * (limit + 1), {"content-type": "application/json"},
                        chunked=True)  # fmt: skip
    assert status == 413, text
    conforms(document, "/predict", status, text)
    assert "503" in document["paths"]["/predict"]["post"]["responses"]  # shed load (batching)


def test_readme_curl_example_succeeds(server: Server, lineage: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    body = re.search(r"curl -s -X POST http://127\.0\.0\.1:3000/predict .*?\n\s*-d '(.+?)'", readme)
    assert body, "README.md has no curl example of /predict"
    names = {f["name"] for f in lineage["data"]["features"]}
    if set(json.loads(body.group(1))["records"][0]) != names:
        pytest.skip("README's example is for the bundled data; `make example-request` prints yours")
    status, text = fetch(f"{server.url}/predict", body.group(1))
    assert status == 200, text


def test_example_request_command(server: Server, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"{PACKAGE}.serving.example_request", "--send", "--url", server.url,
         "--artifacts", str(ROOT / "artifacts")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"curl -s -X POST {server.url}/predict")
    assert "\n200 [" in done.stdout
    missing = subprocess.run(
        [sys.executable, "-m", f"{PACKAGE}.serving.example_request", "--artifacts", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert missing.returncode == 1
    assert "run `make train` first" in missing.stderr
