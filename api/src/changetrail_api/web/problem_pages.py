"""Answers made before a page's route runs are pages too, when a browser asks for one.

The app-wide middleware (the request guard's 413 and 422, the throttle's 429, and whatever
else answers ahead of routing) speaks problem+json wherever it stands, since it cannot know
which paths are pages. The exception handlers in ``errors`` only see what routes raise. This
middleware sits outside all of them and rewrites a problem document on a page's path into the
site's error page, same status and same ``Retry-After``, for clients that accept HTML. The
API's paths, and clients that ask for JSON, keep the problem document as it was.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from changetrail_api.errors import PROBLEM_JSON
from changetrail_api.web.errors import error_page, is_page

# A problem document is small; anything larger is passed on as it came rather than held.
_MAX_PROBLEM_BYTES = 64 * 1024
_KEPT_HEADERS = ("retry-after",)


def accepts_html(accept: str | None) -> bool:
    """Whether an ``Accept`` header admits ``text/html`` (no header admits anything)."""
    if accept is None or not accept.strip():
        return True
    for media_range in accept.split(","):
        media, *parameters = (part.strip() for part in media_range.split(";"))
        if media.lower() not in ("text/html", "text/*", "*/*"):
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


def _problem_of(body: bytes) -> tuple[str, list[tuple[str, str]]]:
    """The detail and field errors of a problem document, tolerating any shape."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        return "", []
    if not isinstance(document, dict):
        return "", []
    detail = document.get("detail")
    problems: list[tuple[str, str]] = []
    for item in document.get("errors") or []:
        if isinstance(item, dict):
            problems.append((str(item.get("field", "")), str(item.get("message", ""))))
    return (detail if isinstance(detail, str) else ""), problems


class ProblemsAsPages:
    """ASGI middleware; see the module's docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not is_page(request) or not accepts_html(request.headers.get("accept")):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        body = bytearray()
        finished = False

        async def hold_problems(message: Message) -> None:
            nonlocal held, finished
            if message["type"] == "http.response.start":
                headers = Headers(raw=message.get("headers", []))
                media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
                if message["status"] >= 400 and media == PROBLEM_JSON:
                    held = message
                    return
            elif message["type"] == "http.response.body" and held is not None and not finished:
                body.extend(message.get("body", b""))
                finished = not message.get("more_body", False)
                if len(body) <= _MAX_PROBLEM_BYTES:
                    return
                # Too large to be a problem this middleware knows: send it on unchanged.
                await send(held)
                held = None
                message = {**message, "body": bytes(body)}
            await send(message)

        await self.app(scope, receive, hold_problems)
        if held is None:
            return
        detail, problems = _problem_of(bytes(body))
        kept = Headers(raw=held.get("headers", []))
        headers = {name: kept[name] for name in _KEPT_HEADERS if name in kept}
        status: int = held["status"]
        page = error_page(request, status, detail or "This request cannot be answered.", problems)
        page.headers.update(headers)
        await page(scope, receive, send)
