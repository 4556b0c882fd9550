"""BentoML service: batch predictions and model metadata for the trained pipeline.

The model comes from the BentoML store (``make bento`` puts it there): ``MODEL_TAG`` if set,
else the latest version of :data:`~.bento.MODEL_NAME`. Its request schema is derived, when this
module is imported, from the lineage record stored with the model (see :mod:`.schema` for the
validation policy), so the same code serves either task and any dataset schema.

Endpoints (all ``POST``, JSON): ``/predict`` (records in, one prediction per record out) and
``/metadata``; BentoML adds ``/livez``, ``/readyz``, ``/metrics`` (Prometheus) and ``/docs``.

Settings, tuned on a 2-core machine (``make bench-serve`` measures them):

- ``workers=2``: one process per core; a scikit-learn pipeline holds the GIL, so processes,
  not threads, are what scale.
- Preprocessing compiled to numpy (:mod:`.inference`, ``SERVICE_COMPILE``): 0.1 ms for a row
  where the pipeline's scikit-learn path takes 1 ms (3 ms with the caches a server has).
- Adaptive batching on ``predict``: concurrent requests in one worker are merged into one
  inference call (its cost hardly depends on the row count, so merging is nearly free
  throughput). ``max_latency_ms`` (5 s, half the timeout) bounds how long a
  request may wait in the batching queue: beyond it the server sheds load with a 503.
- Requests pass :class:`~.http_guard.RequestGuard` first: JSON only (415), bodies up to
  ``serving.max_body_kb`` (413, before the body is read), and ``/docs.json`` lists every error
  status with its real body. Workers exit with the server (:func:`~.http_guard.die_with_parent`)
  and log client errors as one line.
- Each worker logs the rows it predicts and its answers (:mod:`.traffic`,
  ``serving.traffic_log``): ``make monitor CURRENT=data/traffic`` checks them for drift.
- ``traffic``: a 10 s timeout and a concurrency cap so overload queues boundedly and fails fast
  instead of growing memory; ``resources``: one CPU per worker.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Annotated, Any

import bentoml
from pydantic import BaseModel, Field

from ..config import ServingParams
from . import http_guard, traffic
from .bento import LINEAGE_METADATA, MODEL_NAME
from .inference import Inference
from .schema import MAX_RECORDS, example_record, prediction_model, record_model, record_rows

logger = logging.getLogger(__name__)

MODEL_TAG = os.environ.get("MODEL_TAG") or f"{MODEL_NAME}:latest"
"""The model served: ``MODEL_TAG`` from the environment, else the newest saved version."""

WORKERS = int(os.environ.get("SERVICE_WORKERS") or 2)
"""Worker processes (``SERVICE_WORKERS``; default 2, one per core of a 2-core machine)."""


def _switch(variable: str) -> bool:
    """An on/off setting from the environment: on unless set to off, 0 or false."""
    return (os.environ.get(variable) or "on").strip().lower() not in {"off", "0", "false"}


BATCHING = _switch("SERVICE_BATCHING")
"""Adaptive batching of ``predict`` (``SERVICE_BATCHING=off`` disables it)."""
COMPILE = _switch("SERVICE_COMPILE")
"""Compiled preprocessing (:mod:`..pipeline.compiled_features`; ``SERVICE_COMPILE=off``)."""
MAX_BATCH_SIZE = 1000
MAX_LATENCY_MS = 5000

# Workers share one listening socket, and an event loop accepts every pending connection when it
# wakes: 16 keep-alive clients all landed on one of two workers, the other idle. libuv (uvloop,
# which uvicorn picks when installed) yields after each accept with this set, so connections
# spread over the workers. Read when a worker starts listening, after this import.
os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")

_model_ref = bentoml.models.BentoModel(MODEL_TAG)
_stored = _model_ref.stored
if _stored is None:  # fail with a hint instead of BentoML's attempt to reach BentoCloud
    msg = f"model {MODEL_TAG} is not in the BentoML store: run `make bento` first"
    raise bentoml.exceptions.NotFound(msg)
LINEAGE: dict[str, Any] = json.loads(_stored.info.metadata[LINEAGE_METADATA])
FEATURES: list[dict[str, Any]] = list(LINEAGE["data"]["features"])
FEATURE_NAMES = [feature["name"] for feature in FEATURES]
TASK: str = LINEAGE["task"]

SERVING = ServingParams.model_validate((LINEAGE.get("params") or {}).get("serving") or {})
"""The params' ``serving`` section recorded at training (defaults for older models)."""

Record = record_model(FEATURES, extra=SERVING.extra_fields)
Prediction = prediction_model(TASK, LINEAGE["data"].get("classes"))
EXAMPLE_RECORDS: list[dict[str, Any]] = [example_record(FEATURES)]
"""A valid request body's ``records``: the API example, and the tests' input."""

Records = Annotated[
    list[Record],  # type: ignore[valid-type]  # a class built at import from the lineage record
    Field(
        min_length=1,
        max_length=MAX_RECORDS,
        examples=[EXAMPLE_RECORDS],
        description=f"1 to {MAX_RECORDS} records, one per row to predict",
    ),
]


class Metadata(BaseModel):
    """What the ``/metadata`` endpoint returns."""

    model_tag: str
    version: str
    task: str
    preprocessing: str
    metrics: dict[str, Any]
    lineage: dict[str, Any]


# The access log and the tracing middleware (which BentoML always installs: tracing is off when it
# excludes every URL) cost ~0.4 ms of a ~1.6 ms request in CPU (make bench-serve): off unless
# serving.access_log / serving.tracing ask for them. /metrics stays on: it is what ops scrape.
SERVICE_CONFIG: dict[str, Any] = {
    "workers": WORKERS,
    "traffic": {"timeout": 10, "max_concurrency": 256},
    "resources": {"cpu": "1"},
    "logging": {"access": {"enabled": SERVING.access_log}},
    "tracing": {"excluded_urls": None if SERVING.tracing else [".*"]},
}


@bentoml.service(**SERVICE_CONFIG)
class Predictor:
    """Serve the trained scikit-learn pipeline."""

    model_ref = _model_ref

    def __init__(self) -> None:
        in_worker = bentoml.server_context.worker_index is not None  # a server's worker process
        if in_worker:  # first: a worker killed while loading the model must not outlive it
            http_guard.die_with_parent()
            http_guard.install_client_error_log()
        pipeline = bentoml.sklearn.load_model(self.model_ref)
        self.inference = Inference(pipeline, FEATURES, TASK, compile_features=COMPILE)
        self.model_tag = str(self.model_ref.tag)
        if self.inference.refused is not None:
            logger.warning("%s: preprocessing by %s", self.model_tag, self.inference.preprocessing)
        self.traffic: traffic.TrafficLog | None = None
        if in_worker:  # served traffic only: in-process calls are not logged
            log = SERVING.traffic_log
            where = traffic.settings(log.dir, log.max_file_mb, log.keep_files)
            self.traffic = None if where is None else traffic.TrafficLog(where, self.model_tag)

    # Ignored: bentoml.api is an untyped decorator (BentoML 1.4); Records and Prediction are
    # classes built at import from the lineage record, which mypy cannot use as types.
    @bentoml.api(batchable=BATCHING, max_batch_size=MAX_BATCH_SIZE, max_latency_ms=MAX_LATENCY_MS)  # type: ignore[untyped-decorator]
    async def predict(self, records: Records) -> list[Prediction]:  # type: ignore[valid-type]
        """Predict one value per record (classification: the label and class probabilities).

        ``async`` although it never awaits: BentoML runs a plain method in a thread pool, and the
        hand-off to the thread and back cost more than the ~0.1 ms inference, which holds the
        GIL either way (profiled: see ``make bench-serve``).
        """
        rows = record_rows(records, FEATURES)
        answers = self.inference.answers(rows)
        if self.traffic is not None:
            self.traffic.write(
                [dict(zip(FEATURE_NAMES, row, strict=True)) for row in rows], answers
            )
        return answers

    @bentoml.api  # type: ignore[untyped-decorator]  # BentoML's decorator is untyped
    def metadata(self) -> Metadata:
        """Return the model's tag, version, task, preprocessing path, metrics and lineage."""
        info = self.model_ref.info.metadata
        return Metadata(
            model_tag=self.model_tag,
            version=str(info.get("version", "")),
            task=TASK,
            preprocessing=self.inference.preprocessing,
            metrics=dict(info.get("metrics") or {}),
            lineage=LINEAGE,
        )


for _api in Predictor.apis.values():  # type: ignore[attr-defined]  # @service's untyped result
    # BentoML derives a response's media type from the output model's JSON schema, rebuilt on
    # every response (~6% of a worker's time in a profile); the answers are always JSON.
    _api.output_spec.media_type = http_guard.JSON_MEDIA_TYPE

# Ignored: BentoML's @service types the decorated class as itself, not as the Service it returns.
Predictor.add_asgi_middleware(  # type: ignore[attr-defined]
    http_guard.RequestGuard,  # a plain ASGI callable class
    max_body_bytes=SERVING.max_body_kb * 1024,
    api_paths=[api.route for api in Predictor.apis.values()],  # type: ignore[attr-defined]
)
