"""Rate limiting per key, and the bootstrap key across restarts."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import func, select

from changetrail_api.keys.models import ApiKey
from tests.api.conftest import serving, settings_for


async def test_a_key_over_its_rate_gets_429_with_retry_after(database_url: str) -> None:
    async with serving(settings_for(database_url, rate_limit_per_minute=3)) as client:
        statuses = [(await client.get("/api/v1/changes")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = await client.get("/api/v1/changes")
        assert limited.headers["retry-after"] == "1"
        assert limited.headers["content-type"] == "application/problem+json"


async def test_bootstrap_key_survives_restarts_without_duplicates(
    app: FastAPI, database_url: str
) -> None:
    async with serving(settings_for(database_url)):
        pass
    async with app.state.sessionmaker() as session:
        count = (await session.execute(select(func.count()).select_from(ApiKey))).scalar_one()
    assert count == 1
