"""Server-rendered pages: one Jinja2 environment, one way to answer with HTML."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from changetrail_api.scopes import Scope
from changetrail_api.web import zones
from changetrail_api.web.access import Viewer
from changetrail_api.web.links import Links, prefix_of, route_path

STATIC_FILES = ("app.css", "app.js")

# Pages run no inline script or style and load nothing from elsewhere: a stored summary that
# smuggles markup past escaping still could not run.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # Pages show an organisation's data: never from a shared cache, never from history.
    "Cache-Control": "no-store",
}


def _fingerprints() -> dict[str, str]:
    """A short hash per static file: asset URLs change whenever their content does."""
    folder = resources.files("changetrail_api.web") / "static"
    return {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()[:10] for name in STATIC_FILES
    }


_ENVIRONMENT = Environment(
    loader=PackageLoader("changetrail_api.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENVIRONMENT.filters["thousands"] = lambda n: f"{n:,}"
_FINGERPRINTS = _fingerprints()


class PageContext:
    """What every page template can use: links, assets, the viewer and the viewer's clock."""

    def __init__(self, request: Request, viewer: Viewer | None) -> None:
        self.request = request
        self.viewer = viewer
        self.links = Links(prefix_of(request))
        self.zone = zones.zone_named(request.cookies.get(zones.ZONE_COOKIE))
        self.now = datetime.now(UTC)

    def static(self, name: str) -> str:
        return self.links.to(f"/ui/static/{name}", [("v", _FINGERPRINTS[name])])

    def can(self, scope: str) -> bool:
        return self.viewer is not None and self.viewer.can(Scope(scope))

    def exact(self, value: datetime) -> str:
        return zones.exact(value, self.zone)

    def relative(self, value: datetime) -> str:
        return zones.relative(value, self.now)

    def iso(self, value: datetime) -> str:
        return zones.iso_utc(value)

    @property
    def zone_label(self) -> str:
        return zones.zone_label(self.zone)

    @property
    def current(self) -> str:
        """This page's own URL as the browser sees it (for ``next`` after sign-in)."""
        url = self.request.url
        path = self.links.prefix + route_path(self.request)
        return path + (f"?{url.query}" if url.query else "")


def render(
    page: PageContext,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    html = _ENVIRONMENT.get_template(template).render(page=page, links=page.links, **context)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
