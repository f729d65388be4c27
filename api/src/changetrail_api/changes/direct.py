"""``POST /api/v1/changes`` and its batch form answered without FastAPI's per-request work.

The busiest endpoints (CI pipelines, importers, the operator's posts) are declared like every
other one, so their signatures make their OpenAPI entries; requests to them are handled here,
by the same steps FastAPI would take in the same order, with the same errors:

1. the body, parsed once (the request guard has parsed it already; see ``middleware``):
   text that is not JSON is a 400 whoever sends it;
2. the caller's key and its ``changes:write`` scope (401, 403, 429);
3. the ``Idempotency-Key`` header and the body, validated together into one 422.

Resolving the declared dependencies costs a single post more than validating the change
itself; a batch's body, parsed once already, would be parsed a second time.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from changetrail_api.auth import Principal, authenticate, check_scope
from changetrail_api.changes.schemas import ChangeCreate
from changetrail_api.middleware import parsed_body
from changetrail_api.scopes import Scope

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(max_length=255)])
_ABSENT = object()


class Recorder(Protocol):
    def __call__(
        self,
        request: Request,
        principal: Principal,
        body: ChangeCreate,
        idempotency_key: str | None,
    ) -> Awaitable[Response]: ...


async def _json(request: Request) -> Any:
    """The body as JSON (``_ABSENT`` when empty); FastAPI's 400 for text that is not JSON."""
    parsed = parsed_body(request.scope)
    if parsed is not None:
        return parsed.value
    body = await request.body()
    if not body:
        return _ABSENT
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise _not_json(error.pos, error.msg) from error
    except ValueError as error:  # bytes that are not UTF-8 (or UTF-16/32) text at all
        raise _not_json(0, "the body is not UTF-8 text") from error


def _not_json(position: int, why: str) -> RequestValidationError:
    """FastAPI's own answer to a body it cannot parse as JSON."""
    return RequestValidationError(
        [
            {
                "type": "json_invalid",
                "loc": ("body", position),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": why},
            }
        ]
    )


def _validated(payload: Any, key: str | None) -> ChangeCreate:
    """The change and its key, or one 422 naming every bad field (the header's first)."""
    errors: list[Any] = []
    if key is not None:
        try:
            _IDEMPOTENCY_KEY.validate_python(key)
        except ValidationError as error:
            errors += _located(error, ("header", IDEMPOTENCY_KEY_HEADER))
    change: ChangeCreate | None = None
    if payload is _ABSENT:
        errors.append({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
    else:
        try:
            change = ChangeCreate.model_validate(payload)
        except ValidationError as error:
            errors += _located(error, ("body",))
    if errors or change is None:
        raise RequestValidationError(errors)
    return change


def _located(error: ValidationError, prefix: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{**e, "loc": (*prefix, *e["loc"])} for e in error.errors(include_url=False)]


def recording_route(record: Recorder) -> type[APIRoute]:
    """A route class whose requests go straight to ``record`` after the steps above."""

    class RecordingRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            async def handle(request: Request) -> Response:
                payload = await _json(request)
                principal = await authenticate(request)
                check_scope(principal, Scope.CHANGES_WRITE)
                key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
                return await record(request, principal, _validated(payload, key), key)

            return handle

    return RecordingRoute


BodyT = TypeVar("BodyT", bound=BaseModel)


def body_route(
    model: type[BodyT],
    scope: Scope,
    handle: Callable[[Request, Principal, BodyT], Awaitable[Response]],
) -> type[APIRoute]:
    """A route class for an endpoint taking a JSON body of ``model`` and a key with ``scope``:
    the body as the request guard parsed it, the key, then the body validated (one 422)."""

    class BodyRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            async def handler(request: Request) -> Response:
                payload = await _json(request)
                principal = await authenticate(request)
                check_scope(principal, scope)
                if payload is _ABSENT:
                    missing = {"type": "missing", "loc": ("body",), "msg": "Field required"}
                    raise RequestValidationError([{**missing, "input": None}])
                try:
                    body = model.model_validate(payload)
                except ValidationError as error:
                    raise RequestValidationError(_located(error, ("body",))) from error
                return await handle(request, principal, body)

            return handler

    return BodyRoute
