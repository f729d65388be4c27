"""The ingest ceiling: a minimal FastAPI endpoint doing the same single-row insert with raw psycopg.

Same framework and server as the API, none of its validation, auth, ORM or bookkeeping: what
the stack itself can do, for ``POST /api/v1/changes`` to be measured against.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

ORG_ID = os.environ.get("BASELINE_ORG_ID", "org_bench")
INSERT = """
INSERT INTO changes (id, org_id, change_type, summary, description, source, commit_sha, branch,
                     environment, risk_level, changed_by, tags, occurred_at, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
pool = AsyncConnectionPool(
    os.environ.get("BASELINE_DATABASE_URL", ""), min_size=10, max_size=20, open=False
)


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    await pool.open()
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/ingest", status_code=201)
async def ingest(request: Request) -> JSONResponse:
    payload: dict[str, Any] = await request.json()
    now = datetime.now(UTC).replace(tzinfo=None)
    change_id = "chg_" + secrets.token_hex(13)
    async with pool.connection() as connection:
        await connection.execute(
            INSERT,
            (
                change_id,
                ORG_ID,
                payload.get("change_type", "deployment"),
                payload["summary"],
                payload.get("description"),
                "api",
                payload.get("commit_sha"),
                payload.get("branch"),
                payload.get("environment", "production"),
                payload.get("risk_level", "low"),
                payload.get("changed_by"),
                Jsonb(payload.get("tags", [])),
                now,
                now,
            ),
        )
    return JSONResponse({"data": {"id": change_id}}, status_code=201)


# --- the list ceiling -------------------------------------------------------------------------

# The page query ``GET /api/v1/changes`` runs, without auth, the total or the response model:
# the newest 25 matching rows of the organisation (one row per change, with its service's name).
PAGE_QUERY = """
SELECT c.*, s.name AS service_name FROM changes c LEFT JOIN services s ON s.id = c.service_id
WHERE c.org_id = %s {condition}
ORDER BY c.created_at DESC, c.id DESC LIMIT %s OFFSET %s
"""
# Conditions by query parameter: only those the list benchmark uses.
_EQUAL = ("service_id", "change_type", "environment", "source")


def _page_sql(params: dict[str, str]) -> tuple[str, list[Any]]:
    conditions: list[str] = []
    args: list[Any] = [ORG_ID]
    for name in _EQUAL:
        if name in params:
            conditions.append(f"AND c.{name} = %s")
            args.append(params[name])
    if "start_date" in params:
        conditions.append("AND c.created_at >= %s")
        args.append(datetime.fromisoformat(params["start_date"]).replace(tzinfo=None))
    if "tag" in params:
        conditions.append(
            "AND EXISTS (SELECT 1 FROM change_tags t WHERE t.org_id = c.org_id "
            "AND t.change_id = c.id AND t.tag = %s)"
        )
        args.append(params["tag"])
    args += [int(params.get("limit", "25")), int(params.get("offset", "0"))]
    return PAGE_QUERY.format(condition=" ".join(conditions)), args


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@app.get("/list")
async def page(request: Request) -> JSONResponse:
    sql, args = _page_sql(dict(request.query_params))
    async with pool.connection() as connection:
        cursor = await connection.execute(sql, args)
        names = [column.name for column in cursor.description or ()]
        rows = await cursor.fetchall()
    data = [{n: _jsonable(v) for n, v in zip(names, row, strict=True)} for row in rows]
    return JSONResponse({"data": data})
