"""Races between writers: a long webhook batch never locks other writers out, a busy database
is a 503 with Retry-After, conflicts are 409s and a reused Idempotency-Key is never a silent
mismatch. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from changetrail_api.db import (
    Database,
    async_url,
    create_engine,
    create_sessionmaker,
    is_sqlite,
)
from changetrail_api.webhooks.service import MAX_CHANGES_PER_DELIVERY
from tests.api.conftest import Api


def batch(size: int, label: str) -> list[dict[str, object]]:
    detail = {"diff": [{"path": f"spec.containers[{i}].image", "to": "x" * 40} for i in range(5)]}
    return [
        {"summary": f"{label} change {n}", "external_id": f"{label}-{n}", "details": detail}
        for n in range(size)
    ]


async def test_writers_are_never_locked_out_by_a_long_webhook_batch(
    client: httpx.AsyncClient, api: Api
) -> None:
    hook = (await client.post("/api/v1/webhooks", json={"name": "importer"})).json()["data"]

    async def deliveries() -> list[int]:
        statuses = []
        for round_number in range(3):
            body = batch(MAX_CHANGES_PER_DELIVERY, f"batch{round_number}")
            statuses.append((await client.post(hook["path"], json=body)).status_code)
        return statuses

    async def writer(number: int) -> int:
        await asyncio.sleep(number * 0.01)
        response = await client.post("/api/v1/changes", json={"summary": f"writer {number}"})
        return response.status_code

    delivered, *written = await asyncio.gather(deliveries(), *(writer(n) for n in range(30)))

    assert delivered == [201, 201, 201]
    assert Counter(written) == {201: 30}
    total = (await api.changes())["meta"]["total"]
    assert total == 3 * MAX_CHANGES_PER_DELIVERY + 30


async def test_a_delivery_over_the_cap_is_refused_whole(
    client: httpx.AsyncClient, api: Api
) -> None:
    hook = (await client.post("/api/v1/webhooks", json={"name": "importer"})).json()["data"]

    response = await client.post(hook["path"], json=batch(MAX_CHANGES_PER_DELIVERY + 1, "over"))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert f"at most {MAX_CHANGES_PER_DELIVERY}" in response.json()["detail"]
    assert (await api.changes())["meta"]["total"] == 0


async def test_concurrent_renames_to_one_name_conflict_cleanly(
    client: httpx.AsyncClient, api: Api
) -> None:
    services = [await api.service(f"service {n}") for n in range(10)]

    async def rename(service_id: str) -> int:
        response = await client.patch(f"/api/v1/services/{service_id}", json={"name": "checkout"})
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
        return response.status_code

    statuses = await asyncio.gather(*(rename(s["id"]) for s in services))

    assert Counter(statuses) == {200: 1, 409: 9}


async def test_a_reused_idempotency_key_on_another_service_is_refused(
    client: httpx.AsyncClient, api: Api
) -> None:
    first, second = await api.service("first"), await api.service("second")
    key = {"Idempotency-Key": "deploy-42"}
    body = {"summary": "Deploy 42"}

    created = await client.post(f"/api/v1/services/{first['id']}/changes", json=body, headers=key)
    replayed = await client.post(f"/api/v1/services/{first['id']}/changes", json=body, headers=key)
    reused = await client.post(f"/api/v1/services/{second['id']}/changes", json=body, headers=key)

    assert (created.status_code, replayed.status_code) == (201, 200)
    assert replayed.json()["data"]["id"] == created.json()["data"]["id"]
    assert reused.status_code == 422, reused.text
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"
    elsewhere = await client.post("/api/v1/changes", json={"summary": "Other"}, headers=key)
    assert elsewhere.status_code == 422


def _begin_immediate(path: Path) -> sqlite3.Connection:
    writer = sqlite3.connect(path, timeout=5, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    return writer


@contextlib.asynccontextmanager
async def write_lock_held_elsewhere(database_url: str) -> AsyncIterator[AsyncEngine]:
    """Another process holds the write lock; yields an engine that waits for it only briefly.

    The lock is taken without blocking the event loop: the app's background work (the channels
    worker) may be mid-transaction on this loop, and has to finish for the lock to be granted.
    """
    if is_sqlite(database_url):
        path = Path(database_url.removeprefix("sqlite:///"))
        writer = await asyncio.to_thread(_begin_immediate, path)
        try:
            yield create_engine(database_url, busy_seconds=0.2)
        finally:
            writer.rollback()
            writer.close()
        return
    async with await psycopg.AsyncConnection.connect(database_url) as locker:
        await locker.execute("LOCK TABLE changes IN ACCESS EXCLUSIVE MODE")
        yield create_async_engine(
            async_url(database_url), connect_args={"options": "-c lock_timeout=200"}
        )
        await locker.rollback()


async def test_a_busy_database_is_a_503_with_retry_after(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    regular = app.state.sessionmaker, app.state.database
    async with write_lock_held_elsewhere(database_url) as impatient:
        # Recording a change goes through the app's Database, other writes through sessions:
        # both wait for the lock only briefly here.
        briefly = Database(database_url, impatient, busy_seconds=0.2)
        app.state.sessionmaker = create_sessionmaker(impatient)
        app.state.database = briefly
        try:
            response = await client.post("/api/v1/changes", json={"summary": "blocked"})
        finally:
            app.state.sessionmaker, app.state.database = regular
            await briefly.dispose()
            await impatient.dispose()

    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.post("/api/v1/changes", json={"summary": "free"})).status_code == 201
