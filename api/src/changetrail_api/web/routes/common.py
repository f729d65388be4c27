"""What every page route does first: find the viewer, check the scope, read the query."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse

from changetrail_api.scopes import Scope
from changetrail_api.web.access import current_viewer
from changetrail_api.web.filters import multi
from changetrail_api.web.rendering import SECURITY_HEADERS, PageContext


async def open_page(request: Request, db: AsyncSession, scope: Scope) -> PageContext:
    """The page's context for a signed-in viewer whose key has ``scope``.

    Raises SignInRequiredError (answered with the sign-in form) or a 403 ProblemError.
    """
    viewer = await current_viewer(request, db)
    viewer.require(scope)
    return PageContext(request, viewer)


def query_of(request: Request) -> dict[str, list[str]]:
    return multi(request.query_params.multi_items())


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
