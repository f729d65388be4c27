"""The pages over HTTP (ASGI transport) and in a real browser (headless Chromium).

HTTP tests run on SQLite and PostgreSQL like the API's. The browser suite starts the real app
with uvicorn on 127.0.0.1 and seeds it through the real API (see ``browser/conftest.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from changetrail_api.app import create_app
from changetrail_api.keys import service as keys_service
from changetrail_api.settings import ApiSettings
from tests.api.conftest import (  # noqa: F401 - fixtures shared with the API's tests
    ADMIN_KEY,
    Api,
    KeyFactory,
    bearer,
    database_url,
    postgres_template,
    settings_for,
    sqlite_template,
)
from tests.web.pages import Browser


@pytest.fixture
def settings(database_url: str) -> ApiSettings:  # noqa: F811
    return settings_for(database_url)


@pytest.fixture
async def app(settings: ApiSettings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, run_migrations=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[Api]:
    """The JSON API as an admin, to seed what the pages then show."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://changetrail.test",
        headers=bearer(ADMIN_KEY),
    ) as http:
        yield Api(http)


@pytest.fixture
def make_key(app: FastAPI) -> KeyFactory:
    async def factory(*scopes: str, org: str = "default") -> str:
        async with app.state.sessionmaker.begin() as session:
            key = await keys_service.issue_for_org_slug(session, org, "test", list(scopes))
        return key.key

    return factory


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[Browser]:
    """A cookie-keeping HTTP client that reads pages as a browser would (no JavaScript)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://changetrail.test",
    ) as http:
        yield Browser(http)
