"""ASGI middleware: request size limits, media types, storable input and request metrics.

Written as plain ASGI (not BaseHTTPMiddleware) so the body is limited while it streams in,
before anything buffers it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from changetrail_api import json_safety
from changetrail_api.errors import problem_response
from changetrail_api.metrics import REQUESTS, method_label

_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


# Where RequestGuard leaves the body it parsed, for a handler that would parse it again.
_PARSED_BODY = "changetrail.parsed_body"


@dataclass(frozen=True, slots=True)
class ParsedBody:
    value: Any


def parsed_body(scope: Scope) -> ParsedBody | None:
    """The JSON body the guard parsed and checked; None when it parsed none."""
    parsed: ParsedBody | None = scope.get(_PARSED_BODY)
    return parsed


class _TooLargeError(Exception):
    pass


class _DisconnectedError(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, refusing it as soon as it grows past ``limit`` (chunked or not)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _DisconnectedError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body read here, then the client's own messages."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _unstorable_parameter(scope: Scope) -> str | None:
    """The query parameter (or ``path``) holding a NUL, which no text column can store."""
    if "\x00" in scope["path"]:
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query.lower():
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return name.replace("\x00", "") or "query"
        return "query"
    return None


class RequestGuard:
    """Every request the API handles is bounded and storable before any endpoint sees it.

    - bodies over ``max_body_bytes`` are a 413, whether declared or streamed;
    - a body sent to the management API that is not JSON is a 415, chunked or not;
    - a JSON body that breaks json_safety's limits (non-finite numbers, invalid Unicode, NUL,
      nesting) is a 422 naming where, on every endpoint and webhook receiver alike;
    - a NUL in the path or a query parameter is a 422 naming the parameter.
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, path_limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Exact paths allowed another limit (the batch endpoint takes far more than one change).
        self.path_limits = path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = self.path_limits.get(scope["path"], self.max_body_bytes)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(scope, receive, send, 413, f"Request body exceeds {limit} bytes.")
            return
        parameter = _unstorable_parameter(scope)
        if parameter is not None:
            await self._invalid(scope, receive, send, parameter, "contains a NUL character")
            return
        path: str = scope["path"]
        if scope["method"] not in _BODY_METHODS or not path.startswith("/api/"):
            await self.app(scope, self._limited(receive, limit), send)
            return
        try:
            body = await _read_body(receive, limit)
        except _TooLargeError:
            await self._reject(scope, receive, send, 413, f"Request body exceeds {limit} bytes.")
            return
        except _DisconnectedError:
            return
        if body.strip():
            content_type = headers.get("content-type", "")
            # The management API speaks JSON only; webhook receivers sniff the body themselves.
            if path.startswith("/api/v1/") and not _is_json(content_type):
                await self._reject(
                    scope, receive, send, 415, "Send the request body as application/json."
                )
                return
            try:
                scope[_PARSED_BODY] = ParsedBody(json_safety.loads(body))
            except json_safety.UnsafeJsonError as error:
                await self._invalid(
                    scope, receive, send, json_safety.field_name(error.path), error.message
                )
                return
            except json_safety.NotJsonError:
                pass  # the endpoint answers that in its own words (400, 415)
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    def _limited(receive: Receive, limit: int) -> Receive:
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException, because FastAPI turns any other error raised while it
                    # reads the body into a 400.
                    raise HTTPException(413, f"Request body exceeds {limit} bytes.")
            return message

        return limited_receive

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
        await problem_response(status, detail)(scope, receive, send)

    @staticmethod
    async def _invalid(
        scope: Scope, receive: Receive, send: Send, field: str, message: str
    ) -> None:
        errors = [{"field": field, "message": message}]
        await problem_response(422, f"Invalid request: {field}", errors)(scope, receive, send)


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", "unmatched")
            REQUESTS.labels(method_label(scope["method"]), template, str(status)).observe(
                time.perf_counter() - started
            )
