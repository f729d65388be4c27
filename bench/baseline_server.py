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
