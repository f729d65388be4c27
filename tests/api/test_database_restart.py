"""A PostgreSQL restart costs no change: pooled connections are re-checked before use."""

from __future__ import annotations

import psycopg

from changetrail_api import migrate
from tests.api.conftest import serving, settings_for
from tests.support.postgres import PostgresServer


async def test_requests_after_a_database_restart_succeed(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.url(), autocommit=True) as connection:
        connection.execute("DROP DATABASE IF EXISTS ct_restart WITH (FORCE)")
        connection.execute("CREATE DATABASE ct_restart")
    url = postgres_server.url("ct_restart")
    migrate.upgrade(url)
    async with serving(settings_for(url)) as client:
        body = {"summary": "before", "external_id": "a"}
        assert (await client.post("/api/v1/changes", json=body)).status_code == 201
        postgres_server.restart()
        assert (await client.get("/readyz")).status_code == 200
        after = await client.post("/api/v1/changes", json={"summary": "after", "external_id": "b"})
        assert after.status_code == 201
        replay = await client.post("/api/v1/changes", json=body)
        assert replay.status_code == 200
        listed = (await client.get("/api/v1/changes")).json()
        assert [c["summary"] for c in listed["data"]] == ["after", "before"]
