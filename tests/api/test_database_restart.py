"""A PostgreSQL restart costs no change: pooled connections are re-checked before use."""

from __future__ import annotations

import time

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection

from changetrail_api import db, migrate
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


async def test_a_pooled_connection_left_in_a_transaction_is_handed_out_idle(
    postgres_server: PostgresServer,
) -> None:
    """The read and one-statement write paths switch a connection to autocommit, which
    psycopg refuses inside a transaction: checkout must never hand one out in that state."""
    engine = db.create_engine(postgres_server.url())
    try:
        async with engine.connect() as connection:

            def checked_out_again(sync_connection: Connection) -> TransactionStatus:
                fairy = sync_connection.connection
                assert fairy.dbapi_connection is not None
                assert fairy.driver_connection is not None
                cursor = fairy.dbapi_connection.cursor()
                cursor.execute("SELECT 1")  # psycopg opens a transaction implicitly
                cursor.close()
                driver = fairy.driver_connection
                assert driver.info.transaction_status == TransactionStatus.INTRANS
                # What the pool runs when it hands this connection out, just after its checkin.
                fairy._connection_record.info["checked_in"] = time.monotonic()
                db._ping_when_suspect(fairy.dbapi_connection, fairy._connection_record, None)
                status: TransactionStatus = driver.info.transaction_status
                return status

            assert await connection.run_sync(checked_out_again) == TransactionStatus.IDLE
    finally:
        await engine.dispose()
