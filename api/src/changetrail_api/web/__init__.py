"""The web pages: a timeline of changes, their diffs, incidents and services, served by the API.

Server-rendered (Jinja2) from the same process and database as the API. Every read goes
through the API's service layer with the viewer's own API key, so a page shows exactly what
that key could fetch from the API. Assets ship inside the package; nothing loads from
elsewhere.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from changetrail_api.web import errors
from changetrail_api.web.problem_pages import ProblemsAsPages
from changetrail_api.web.routes import router
from changetrail_api.web.settings import WebSettings


def install(app: FastAPI, settings: WebSettings | None = None) -> None:
    """Serve the pages, their assets and their error pages from ``app``."""
    app.state.web_settings = settings or WebSettings()
    app.include_router(router)
    app.mount(
        "/ui/static",
        StaticFiles(packages=[("changetrail_api.web", "static")]),
        name="web-static",
    )
    errors.install(app)


__all__ = ["ProblemsAsPages", "WebSettings", "install"]
