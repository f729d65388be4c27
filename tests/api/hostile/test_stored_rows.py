"""A read never fails because of one bad row, whatever an older version let in.

Rows are written here the way earlier versions stored them (``NaN`` and ``Infinity`` as text in
SQLite, half surrogate pairs and NUL as escapes, numbers beyond a double, nesting 600 deep),
straight into the database. Lists, the change itself, incidents whose window covers it, their
correlation and Alertmanager deliveries for that window must all still answer. On SQLite the
migration that repairs stored JSON must leave every value valid.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from changetrail_api import migrate
from changetrail_api.db import is_sqlite, sync_url
from changetrail_api.migrations.versions import __path__ as versions_path
from tests.api.conftest import Api
from tests.api.hostile.world import alertmanager_payload, assert_stored_json_is_valid

DEEP = '{"a":' * 600 + "1" + "}" * 600
# What each backend could have been made to keep.
SQLITE_ROWS = [
    '{"kubernetes": {"namespace": "shop"}, "x": NaN}',
    '{"x": Infinity, "y": -Infinity}',
    '{"x": 1e400}',
    '{"x": "\\ud800", "\\udc00": "a\\u0000b"}',
    DEEP,
]
POSTGRES_ROWS = ['{"kubernetes": {"namespace": "shop"}, "x": 1e400}', DEEP]


async def _store_raw(
    app: FastAPI, database_url: str, table: str, column: str, **where: str
) -> None:
    """Overwrite ``table.column`` with the text in ``raw``, bypassing every check."""
    raw = where.pop("raw")
    value = ":raw" if is_sqlite(database_url) else "CAST(:raw AS jsonb)"
    condition = " AND ".join(f"{name} = :{name}" for name in where) or "1 = 1"
    statement = text(f"UPDATE {table} SET {column} = {value} WHERE {condition}")  # noqa: S608
    async with app.state.sessionmaker.begin() as session:
        await session.execute(statement, {"raw": raw, **where})


async def test_reads_survive_rows_stored_before_the_limits(
    app: FastAPI, client: httpx.AsyncClient, api: Api, database_url: str
) -> None:
    rows = SQLITE_ROWS if is_sqlite(database_url) else POSTGRES_ROWS
    service = await api.service("shop")
    ids = []
    for raw in rows:
        change = await api.change("Deploy shop", service_id=service["id"], tags=["namespace:shop"])
        await _store_raw(app, database_url, "changes", "details", raw=raw, id=change["id"])
        ids.append(change["id"])
    stored = await client.put(
        "/api/v1/operator/objects",
        json={
            "items": [
                {"cluster": "c", "kind": "K", "uid": "u", "name": "n", "fingerprint": "f"}
                | {"state": {"ok": True}}
            ]
        },
    )
    assert stored.status_code == 200
    await _store_raw(app, database_url, "operator_objects", "state", raw=rows[0])

    listed = await client.get("/api/v1/changes", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    for change_id in ids:
        one = await client.get(f"/api/v1/changes/{change_id}")
        assert one.status_code == 200, one.text
    # SQLite kept NaN as text: it reads as null. PostgreSQL kept 1e400 as the exact integer.
    repaired = (await client.get("/api/v1/changes/" + ids[0])).json()["data"]["details"]["x"]
    assert repaired == (None if is_sqlite(database_url) else 10**400)

    now = datetime.now(UTC).isoformat()
    incident = await client.post(
        "/api/v1/incidents",
        json={"title": "Errors", "started_at": now, "service_ids": [service["id"]]},
    )
    assert incident.status_code == 201, incident.text
    incident_id = incident.json()["data"]["id"]
    assert (await client.get(f"/api/v1/incidents/{incident_id}")).status_code == 200
    suspects = await client.get(f"/api/v1/incidents/{incident_id}/changes")
    assert suspects.status_code == 200, suspects.text
    assert {s["id"] for s in suspects.json()["data"]} >= set(ids)
    assert (await client.get("/api/v1/incidents")).status_code == 200

    hook = await client.post("/api/v1/webhooks", json={"name": "am", "kind": "alertmanager"})
    delivered = await client.post(
        hook.json()["data"]["path"], json=alertmanager_payload(starts_at=now)
    )
    assert delivered.status_code == 201, delivered.text

    state = await client.get("/api/v1/operator/objects", params={"cluster": "c"})
    assert state.status_code == 200, state.text


def test_the_repair_migration_leaves_every_stored_value_valid(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'old.db'}"
    before = _repair_revision_parent()
    migrate.upgrade(database_url, before)
    engine = create_engine(sync_url(database_url))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organisations (id, slug, name, created_at) VALUES ('o', 'o', 'o', :t)"
            ),
            {"t": datetime(2026, 1, 1)},
        )
        for number, raw in enumerate([*SQLITE_ROWS, "not JSON at all"]):
            connection.execute(
                text(
                    "INSERT INTO changes (id, org_id, change_type, summary, source, environment,"
                    " risk_level, tags, details, occurred_at, created_at)"
                    " VALUES (:id, 'o', 'deployment', 's', 'api', 'production', 'low', '[]',"
                    " :raw, :t, :t)"
                ),
                {"id": f"chg_{number}", "raw": raw, "t": datetime(2026, 1, 1)},
            )
    engine.dispose()

    migrate.upgrade(database_url)

    assert assert_stored_json_is_valid(database_url) > 0


def _repair_revision_parent() -> str:
    """The revision before the one that repairs stored JSON (whatever comes after it)."""
    name = next(p.stem for p in Path(versions_path[0]).glob("*_repair_stored_json.py"))
    module = import_module(f"changetrail_api.migrations.versions.{name}")
    parent: str = module.down_revision
    return parent


@pytest.mark.parametrize("kind", ["changes", "incidents"])
async def test_stored_values_round_trip_exactly(
    client: httpx.AsyncClient, api: Api, kind: str
) -> None:
    awkward = {"emoji": "\U0001f600", "big": 10**40, "tiny": 5e-324, "neg": -0.0, "x" * 50: [1]}
    if kind == "changes":
        change = await api.change("Awkward", details=awkward)
        read = (await client.get(f"/api/v1/changes/{change['id']}")).json()["data"]["details"]
        assert read == awkward
    else:
        assert (await client.get("/api/v1/incidents")).status_code == 200
