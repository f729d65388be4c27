"""Errors on pages are pages: a clear message in the layout, never JSON, never a bare 500.

The API's own handlers answer problem+json; these wrap them so that requests for pages (the
site root and everything under ``/ui``) get HTML with the same status, and every other path
keeps its problem document.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from changetrail_api.errors import ProblemError
from changetrail_api.web.access import SignInRequiredError
from changetrail_api.web.filters import FilterError
from changetrail_api.web.links import route_path
from changetrail_api.web.rendering import PageContext, render
from changetrail_api.web.routes.common import see_other

Handler = Callable[[Request, Exception], Awaitable[Response]]
logger = logging.getLogger(__name__)

_TITLES = {
    400: "That filter does not work",
    401: "Sign in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Not possible here",
    413: "Too large",
    415: "Not a form",
    422: "That does not work",
    429: "Slow down",
    500: "Something went wrong",
}


def is_page(request: Request) -> bool:
    path = route_path(request)
    return path in ("/", "/ui") or path.startswith("/ui/")


def error_page(
    request: Request, status: int, detail: str, problems: list[tuple[str, str]] | None = None
) -> Response:
    page = PageContext(request, None)
    return render(
        page,
        "error.html",
        status,
        title=_TITLES.get(status, "Something went wrong"),
        code=status,
        detail=detail,
        problems=problems or [],
        headers={"Retry-After": "1"} if status == 429 else None,
    )


def _as_page(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInRequiredError):
        page = PageContext(request, None)
        params = [("next", page.current)]
        if exc.reason:
            params.append(("reason", exc.reason))
        return see_other(page.links.to("/ui/sign-in", params))
    if isinstance(exc, FilterError):
        return error_page(
            request, 400, "Some parameters of this address are not valid:", exc.problems
        )
    if isinstance(exc, ProblemError):
        problems = [(e.get("field", ""), e.get("message", "")) for e in exc.errors or []]
        return error_page(request, exc.status, exc.detail, problems)
    if isinstance(exc, RequestValidationError):
        return error_page(request, 400, "This address is not valid.")
    if isinstance(exc, HTTPException):
        detail = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
        return error_page(request, exc.status_code, detail)
    logger.exception("unhandled error on page %s", request.url.path, exc_info=exc)
    return error_page(request, 500, "The error has been logged. Try again, or go back.")


def _pages_first(original: Handler | None) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        if is_page(request) or original is None:
            return _as_page(request, exc)
        return await original(request, exc)

    return handler


def install(app: FastAPI) -> None:
    for kind in (
        ProblemError,
        RequestValidationError,
        HTTPException,
        Exception,
        SignInRequiredError,
        FilterError,
    ):
        original = app.exception_handlers.get(kind)
        app.add_exception_handler(kind, _pages_first(original))  # type: ignore[arg-type]
