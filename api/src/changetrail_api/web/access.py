"""Who is looking: the signed-in viewer of a page, and what their key lets them see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from changetrail_api.auth import Principal
from changetrail_api.errors import ProblemError
from changetrail_api.scopes import Scope
from changetrail_api.web import sessions
from changetrail_api.web.keycheck import principal_for
from changetrail_api.web.settings import WebSettings

SESSION_COOKIE = "ct_session"
# What a key needs to be worth signing in with: any one of these shows some page.
READ_SCOPES = (Scope.CHANGES_READ, Scope.INCIDENTS_READ, Scope.SERVICES_READ)


class SignInRequiredError(Exception):
    """No usable session: the page answers with the sign-in form instead."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "Sign in to continue.")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Viewer:
    principal: Principal
    name: str
    # The session's CSRF token; "" for a proxy-identified viewer, who has no session to end.
    csrf: str
    via_proxy: bool

    def can(self, scope: Scope) -> bool:
        return self.principal.has(scope)

    def require(self, scope: Scope) -> None:
        if not self.can(scope):
            raise ProblemError(403, f"Your API key lacks the '{scope}' scope that this page needs.")


def can_read_something(principal: Principal) -> bool:
    return any(principal.has(scope) for scope in READ_SCOPES)


async def current_viewer(request: Request, db: AsyncSession) -> Viewer:
    settings: WebSettings = request.app.state.web_settings
    if settings.trusts_proxy:
        assert settings.identity_header is not None
        assert settings.identity_api_key is not None
        identity = request.headers.get(settings.identity_header, "").strip()
        if identity:
            principal = await principal_for(request, db, settings.identity_api_key)
            return Viewer(principal, identity[:200], csrf="", via_proxy=True)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequiredError()
    resumed = await sessions.resume(db, token)
    if resumed is None:
        raise SignInRequiredError("Your session has ended. Sign in again.")
    try:
        principal = await principal_for(request, db, resumed.key)
    except ProblemError as exc:
        if exc.status == 401:
            raise SignInRequiredError(
                "The API key of your session was revoked. Sign in with another key."
            ) from None
        raise
    return Viewer(principal, resumed.label, csrf=sessions.csrf_for(token), via_proxy=False)
