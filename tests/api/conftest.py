"""The real app over HTTP (ASGI transport), on SQLite and on PostgreSQL.

Each test gets its own database, copied from a migrated template, so tests never see each
other's rows and never pay for a migration.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from changetrail_api import migrate
from changetrail_api.app import create_app
from changetrail_api.keys import service as keys_service
from changetrail_api.settings import ApiSettings
from tests.support.postgres import PostgresServer

ADMIN_KEY = "ak_live_admin_key_for_tests_0123456789"
_database_numbers = itertools.count()
_template_numbers = itertools.count()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    # Named per fixture instance: another test tree that shares these fixtures (tests/web) gets
    # its own template on the same server instead of colliding with this one.
    name = f"ct_template_{next(_template_numbers)}"
    with psycopg.connect(postgres_server.url(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    migrate.upgrade(postgres_server.url(name))
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "changetrail.db"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"ct_test_{next(_database_numbers)}"
    with psycopg.connect(server.url(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    yield server.url(name)
    with psycopg.connect(server.url(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for(database_url: str, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "bootstrap_api_key": ADMIN_KEY,
        "rate_limit_per_minute": 0,
        **overrides,
    }
    return ApiSettings(**values)


@asynccontextmanager
async def serving(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    """An app with these settings, started, and an admin client for it."""
    application = create_app(settings, run_migrations=False)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application),
            base_url="http://changetrail.test",
            headers=bearer(ADMIN_KEY),
        ) as http,
    ):
        yield http


@pytest.fixture
def settings(database_url: str) -> ApiSettings:
    return settings_for(database_url)


@pytest.fixture
async def app(settings: ApiSettings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, run_migrations=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://changetrail.test",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as http:
        yield http


KeyFactory = Callable[..., Awaitable[str]]


@pytest.fixture
def make_key(app: FastAPI) -> KeyFactory:
    """A new API key with the given scopes, in the default or another organisation."""

    async def factory(*scopes: str, org: str = "default") -> str:
        async with app.state.sessionmaker.begin() as session:
            key = await keys_service.issue_for_org_slug(session, org, "test", list(scopes))
        return key.key

    return factory


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Api:
    """Small factories for the requests tests make over and over."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def service(self, name: str = "API Gateway", **fields: Any) -> dict[str, Any]:
        response = await self.client.post("/api/v1/services", json={"name": name, **fields})
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def change(self, summary: Any = "Deploy v2.1.0", **fields: Any) -> dict[str, Any]:
        response = await self.client.post("/api/v1/changes", json={"summary": summary, **fields})
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def changes(self, **params: Any) -> dict[str, Any]:
        response = await self.client.get("/api/v1/changes", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)
