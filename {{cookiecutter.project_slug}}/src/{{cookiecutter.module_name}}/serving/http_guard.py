"""What the HTTP server refuses before BentoML parses a request, and how its workers end.

Why a middleware: BentoML 1.4 picks a body parser from the ``Content-Type`` header
(``_bentoml_impl.server.app.api_endpoint``). ``multipart/form-data`` goes to Starlette's form
parser, whose ``HTTPException(400)`` ("Missing boundary in multipart") is not a
``BentoMLException``, so ``api_endpoint_wrapper`` turns it into a **500**. BentoML also reads a
whole body into memory before validating it, whatever its size. :class:`RequestGuard` runs
before that: the API routes take JSON only (``415`` otherwise), a body past the limit gets
``413`` without being read (from ``Content-Length``, or as soon as a chunked body passes it),
and ``/docs.json`` is corrected to describe these answers and the real shape of a ``400``.

:class:`ClientErrorLog` keeps a client's mistake (a validation error) to one log line instead of
BentoML's full traceback; :func:`die_with_parent` makes a worker exit when the server process
that started it dies, even by ``SIGKILL`` (BentoML's workers run in process groups of their own).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_MEDIA_TYPE = "application/json"
UTF8_CHARSETS = frozenset({"utf-8", "utf8"})
OPENAPI_PATH = "/docs.json"
BENTOML_ERROR_LOGGER = "bentoml._internal.server.http_app"
"""The logger BentoML writes ``Exception on <path>`` with a traceback to, for any error."""

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_DETAIL_ITEM = {
    "type": "object",
    "required": ["type", "loc", "msg"],
    "properties": {
        "type": {"type": "string"},
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"type": "string"},
    },
}
ERROR_RESPONSES: dict[str, dict[str, Any]] = {
    "400": {
        "description": "Invalid request: malformed JSON or a value the schema refuses; "
        "`detail` lists each problem with its location",
        "schema": {
            "type": "object",
            "required": ["error", "detail"],
            "properties": {
                "error": {"type": "string"},
                "detail": {"type": "array", "items": _DETAIL_ITEM},
            },
        },
    },
    "413": {"description": "Request body larger than serving.max_body_kb", "schema": _ERROR},
    "415": {
        "description": "Content-Type other than application/json (UTF-8), or a "
        "Content-Encoding (bodies are not compressed)",
        "schema": _ERROR,
    },
    "503": {
        "description": "Overloaded: the request waited longer than the batching latency "
        "budget; retry later",
        "schema": _ERROR,
    },
}
"""Every error status an API route answers, with its JSON body (published in ``/docs.json``)."""


def _error(status: int, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": message}).encode()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))  # ASGI headers: pairs of bytes
    return None


def refusal(scope: Scope, max_body_bytes: int) -> tuple[int, bytes] | None:
    """Return the ``(status, body)`` refusing a request from its headers alone, or None.

    Args:
        scope: The ASGI HTTP scope of a request to an API route.
        max_body_bytes: The largest body accepted.

    Returns:
        ``415`` for a non-JSON content type, a charset other than UTF-8 or any content
        encoding; ``413`` for a declared length past the limit; ``400`` for an unreadable
        ``Content-Length``; None when the headers are acceptable.
    """
    content_type = _header(scope, b"content-type")
    if content_type is not None:  # BentoML reads a request without one as JSON
        media_type, *options = (part.strip().lower() for part in content_type.split(";"))
        if media_type != JSON_MEDIA_TYPE:
            return _error(415, f"Content-Type must be {JSON_MEDIA_TYPE}, got {media_type!r}")
        for option in options:
            key, _, value = option.partition("=")
            if key.strip() == "charset" and value.strip().strip('"') not in UTF8_CHARSETS:
                return _error(415, f"charset must be utf-8, got {value.strip()!r}")
    encoding = _header(scope, b"content-encoding")
    if encoding is not None and encoding.strip().lower() not in {"", "identity"}:
        return _error(415, f"Content-Encoding {encoding.strip()!r} is not accepted: send JSON")
    length = _header(scope, b"content-length")
    if length is not None:
        if not length.strip().isdigit():
            body = {"error": "invalid Content-Length header", "detail": [
                {"type": "content_length", "loc": ["headers", "content-length"],
                 "msg": f"not a byte count: {length[:40]!r}"}]}  # fmt: skip
            return 400, json.dumps(body).encode()
        if int(length) > max_body_bytes:
            return _error(413, f"body of {int(length)} bytes is larger than {max_body_bytes}")
    return None


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", JSON_MEDIA_TYPE.encode()), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """ASGI middleware: refuse what BentoML would mishandle, before it reads the body."""

    def __init__(self, app: App, max_body_bytes: int, api_paths: Iterable[str]) -> None:
        """Wrap ``app``; ``api_paths`` are the routes of the service's API methods."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.api_paths = frozenset(api_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check an API request's headers and body size, or patch ``/docs.json``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] == OPENAPI_PATH:
            await self._openapi(scope, receive, send)
        elif scope["path"] not in self.api_paths or scope["method"] != "POST":
            await self.app(scope, receive, send)  # BentoML answers 404/405 itself
        elif (refused := refusal(scope, self.max_body_bytes)) is not None:
            await _respond(send, *refused)
        else:
            await self._bounded(scope, receive, send)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Read at most max_body_bytes (a chunked body declares no length), then replay it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _respond(send, *_error(413, f"body larger than {self.max_body_bytes} bytes"))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # the disconnect, when the client goes
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _openapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if start.get("status") == 200:
            document = json.loads(body)
            publish_errors(document, self.api_paths)
            body = json.dumps(document).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", b"%d" % len(body)))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def publish_errors(document: dict[str, Any], api_paths: Iterable[str]) -> None:
    """Replace the error responses of the API routes in an OpenAPI document with the real ones.

    BentoML documents ``400`` with a string ``detail`` (the server sends a list) and leaves
    413, 415 and 503 out; the error schemas of :data:`ERROR_RESPONSES` replace them.

    Args:
        document: The OpenAPI document BentoML generated (changed in place).
        api_paths: The routes of the service's API methods.
    """
    for path in api_paths:
        operation = document.get("paths", {}).get(path, {}).get("post")
        if operation is None:
            continue
        responses = operation.setdefault("responses", {})
        for status in [s for s in responses if s.isdigit() and int(s) >= 400]:
            del responses[status]
        for status, spec in ERROR_RESPONSES.items():
            responses[status] = {
                "description": spec["description"],
                "content": {JSON_MEDIA_TYPE: {"schema": spec["schema"]}},
            }


class ClientErrorLog(logging.Filter):
    """Log a client's invalid request as one line, without BentoML's traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Strip the traceback of records about validation errors (client errors)."""
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ == "ValidationError":
            first = str(exc).splitlines()[0]
            record.msg = f"{record.getMessage()}: client error: {first}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install_client_error_log() -> None:
    """Attach :class:`ClientErrorLog` to BentoML's error logger (once per process)."""
    logger = logging.getLogger(BENTOML_ERROR_LOGGER)
    if not any(isinstance(f, ClientErrorLog) for f in logger.filters):
        logger.addFilter(ClientErrorLog())


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent (the server) dies.

    BentoML starts each worker in a process group of its own, so killing the server's group
    (``make serve`` interrupted by ``SIGKILL``) would leave workers serving on the port.

    Args:
        sig: The signal the worker gets (SIGTERM: uvicorn shuts down and frees the port).

    Returns:
        True when set; False on systems without ``prctl`` (not Linux).

    Raises:
        OSError: If ``prctl`` refuses.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    return True
