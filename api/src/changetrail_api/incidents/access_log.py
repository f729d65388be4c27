"""An access log for webhook receivers: what a sender sent and what it did. Off by default.

``CHANGETRAIL_ACCESS_LOG=true`` turns it on: one line per request on the
``changetrail.access`` logger (to stderr unless logging is configured otherwise), with the
route's path *template*, so the token that names an endpoint never reaches a log, nor does
any header but the sender's User-Agent. A receiver adds what it understood of the request
(``note``): for Alertmanager the group, its status and each alert's fingerprint and start,
which is what one needs to see why notifications landed on the incidents they did.

A route class rather than middleware, so it knows the route's template and sees a request
refused before the endpoint runs (an unknown token, a bad body) like any other.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.exceptions import HTTPException

from changetrail_api.errors import ProblemError

logger = logging.getLogger("changetrail.access")

# Longest value written for any one field, so a hostile body cannot flood the log.
_MAX_VALUE = 1000


class AccessLogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHANGETRAIL_", extra="ignore")

    access_log: bool = False


def enabled(app: FastAPI) -> bool:
    """Whether this app logs receiver requests; read from the environment once per app."""
    cached: bool | None = getattr(app.state, "receiver_access_log", None)
    if cached is None:
        cached = AccessLogSettings().access_log
        app.state.receiver_access_log = cached
        if cached and not logger.handlers and not logging.getLogger().handlers:
            # Nothing configured logging (the API's own command does not): write to stderr,
            # where the server's other logs go.
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
            logger.addHandler(handler)
        if cached:
            logger.setLevel(logging.INFO)
    return cached


def note(request: Request, **fields: object) -> None:
    """Add what the receiver understood of the request to its access log line."""
    notes: dict[str, object] = getattr(request.state, "access_notes", {})
    notes.update(fields)
    request.state.access_notes = notes


def _value(value: object) -> str:
    text = str(value)
    if len(text) > _MAX_VALUE:
        text = text[: _MAX_VALUE - 1] + "…"
    if not text or any(c.isspace() or c in '"=' for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def line(
    request: Request, template: str, status: int, seconds: float, notes: dict[str, object]
) -> str:
    """One request as ``key=value`` pairs, the path as its route template."""
    client = request.client.host if request.client else "-"
    fields: dict[str, object] = {
        "method": request.method,
        "path": template,
        "query": request.url.query or None,
        "status": status,
        "ms": round(seconds * 1000, 1),
        "client": client,
        "user_agent": request.headers.get("user-agent"),
        "bytes": request.headers.get("content-length"),
        **notes,
    }
    return " ".join(f"{key}={_value(value)}" for key, value in fields.items() if value is not None)


class LoggedRoute(APIRoute):
    """A route whose requests go to the access log when it is on."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        template = self.path

        async def logged(request: Request) -> Response:
            if not enabled(request.app):
                return await handler(request)
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status_code
                return response
            except ProblemError as exc:
                status = exc.status
                raise
            except HTTPException as exc:
                status = exc.status_code
                raise
            except RequestValidationError:
                status = 422
                raise
            finally:
                notes = getattr(request.state, "access_notes", {})
                logger.info(line(request, template, status, time.perf_counter() - started, notes))

        return logged
