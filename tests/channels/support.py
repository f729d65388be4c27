"""Helpers the channel tests share: settings on fast timings, and requests made over and over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from changetrail_api.app import create_app
from changetrail_api.keys import service as keys_service
from changetrail_api.settings import ApiSettings
from tests.api.conftest import ADMIN_KEY, bearer, settings_for

SECRET_KEY = "test-secret-key-for-channel-destinations-0123456789"
# Timings of a fast world: a poll every 20 ms, retries from 50 ms up to 400 ms.
FAST: dict[str, Any] = {
    "secret_key": SECRET_KEY,
    "channels_allow_private_destinations": True,
    "channels_poll_seconds": 0.02,
    "channels_retry_base_seconds": 0.05,
    "channels_retry_max_seconds": 0.4,
    "channels_timeout_seconds": 1.0,
    "channels_lease_seconds": 4.0,
}


def channels_settings(database_url: str, **overrides: Any) -> ApiSettings:
    return settings_for(database_url, **{**FAST, **overrides})


class AppClient(httpx.AsyncClient):
    """An admin client of a started app, which it keeps at hand for what HTTP cannot do."""

    app: FastAPI


@asynccontextmanager
async def serving(settings: ApiSettings) -> AsyncIterator[AppClient]:
    """The app with these settings, started (worker included), and an admin client for it."""
    application = create_app(settings, run_migrations=False)
    async with (
        application.router.lifespan_context(application),
        AppClient(
            transport=httpx.ASGITransport(app=application, raise_app_exceptions=False),
            base_url="http://changetrail.test",
            headers=bearer(ADMIN_KEY),
        ) as client,
    ):
        client.app = application
        yield client


async def make_key(client: AppClient, *scopes: str, org: str = "default") -> str:
    """A new API key with these scopes, in the default or another organisation."""
    async with client.app.state.sessionmaker.begin() as session:
        key = await keys_service.issue_for_org_slug(session, org, "test", list(scopes))
    return key.key


async def create_channel(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": f"{fields.get('kind', 'webhook')}-channel", **fields}
    response = await client.post("/api/v1/channels", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def post_change(
    client: httpx.AsyncClient, summary: str = "Deploy api 1.5.0", **fields: Any
) -> dict[str, Any]:
    response = await client.post("/api/v1/changes", json={"summary": summary, **fields})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def deliveries(
    client: httpx.AsyncClient, channel_id: str, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/channels/{channel_id}/deliveries", params={"limit": 100, **params}
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


async def wait_for_deliveries(
    client: httpx.AsyncClient,
    channel_id: str,
    predicate: Callable[[list[dict[str, Any]]], bool],
    within: float = 20.0,
    **params: Any,
) -> list[dict[str, Any]]:
    """The channel's delivery log (a page of 100, or as ``params`` ask) once it satisfies
    ``predicate`` (read through the API)."""
    async with asyncio.timeout(within):
        while True:
            found = await deliveries(client, channel_id, **params)
            if predicate(found):
                return found
            await asyncio.sleep(0.02)


def all_in(state: str, count: int) -> Callable[[list[dict[str, Any]]], bool]:
    """A predicate: exactly ``count`` deliveries, all in ``state``."""
    return lambda found: len(found) == count and all(d["state"] == state for d in found)
