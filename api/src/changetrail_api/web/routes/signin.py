"""Signing in with an API key, signing out, and the site root."""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from changetrail_api.deps import SessionDep
from changetrail_api.errors import ProblemError
from changetrail_api.security import display_prefix
from changetrail_api.web import sealing, sessions
from changetrail_api.web.access import (
    SESSION_COOKIE,
    SignInRequiredError,
    can_read_something,
    current_viewer,
)
from changetrail_api.web.forms import is_https, read_form
from changetrail_api.web.keycheck import principal_for
from changetrail_api.web.rendering import PageContext, render
from changetrail_api.web.routes.common import see_other
from changetrail_api.web.settings import WebSettings

router = APIRouter()

# Before there is a session, the sign-in form's CSRF token is a double-submit cookie: a site
# that cannot read our cookies cannot post a matching field (login CSRF).
SIGNIN_COOKIE = "ct_signin"


@router.get("/")
async def root(request: Request) -> Response:
    return see_other(PageContext(request, None).links.to("/ui"))


def sign_in_form(
    page: PageContext,
    next_url: str,
    *,
    status: int = 200,
    error: str | None = None,
    message: str | None = None,
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        page, "signin.html", status, next_url=next_url, csrf=token, error=error, message=message
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        max_age=3600,
        path=page.links.cookie_path,
        httponly=True,
        samesite="strict",
        secure=is_https(page.request),
    )
    return response


@router.get("/ui/sign-in")
async def sign_in_page(request: Request, db: SessionDep) -> Response:
    page = PageContext(request, None)
    next_url = page.links.local_target(request.query_params.get("next"))
    try:
        await current_viewer(request, db)
    except SignInRequiredError:
        signed_out = request.query_params.get("signed_out") == "1"
        return sign_in_form(page, next_url, message="You are signed out." if signed_out else None)
    return see_other(next_url)


@router.post("/ui/sign-in")
async def sign_in(request: Request, db: SessionDep) -> Response:
    form = await read_form(request)
    page = PageContext(request, None)
    next_url = page.links.local_target(form.get("next"))
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not expected or not sealing.same(expected, form.get("csrf", "")):
        return sign_in_form(
            page, next_url, status=403, error="This form has expired. Please try again."
        )
    key = form.get("api_key", "").strip()
    if not key:
        return sign_in_form(page, next_url, status=400, error="Enter an API key.")
    try:
        principal = await principal_for(request, db, key)
    except ProblemError as exc:
        if exc.status != 401:
            raise
        return sign_in_form(
            page, next_url, status=401, error="That API key is not valid, or it was revoked."
        )
    if not can_read_something(principal):
        return sign_in_form(
            page,
            next_url,
            status=403,
            error="That key can read nothing: it needs changes:read, incidents:read or "
            "services:read.",
        )
    settings: WebSettings = request.app.state.web_settings
    lifetime = timedelta(hours=settings.session_hours)
    opened = await sessions.open_session(db, principal, key, display_prefix(key) + "…", lifetime)
    response = see_other(next_url)
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        max_age=int(lifetime.total_seconds()),
        path=page.links.cookie_path,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )
    response.delete_cookie(SIGNIN_COOKIE, path=page.links.cookie_path)
    return response


@router.post("/ui/sign-out")
async def sign_out(request: Request, db: SessionDep) -> Response:
    form = await read_form(request)
    page = PageContext(request, None)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        if not sealing.same(sessions.csrf_for(token), form.get("csrf", "")):
            raise ProblemError(403, "This sign-out form has expired: reload the page and retry.")
        await sessions.close(db, token)
    response = see_other(page.links.to("/ui/sign-in", [("signed_out", "1")]))
    response.delete_cookie(SESSION_COOKIE, path=page.links.cookie_path)
    return response
