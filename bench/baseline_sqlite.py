"""The SQLite ingest ceiling: a minimal FastAPI endpoint doing the same insert with sqlite3.

The embedded default's counterpart of ``bench.baseline_server``: the standard library's sqlite3
on one connection, with the pragmas the API sets (WAL, ``synchronous=NORMAL``), one commit per
change, none of the API's validation, auth or bookkeeping.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ORG_ID = os.environ.get("BASELINE_ORG_ID", "org_bench")
INSERT = """
INSERT INTO changes (id, org_id, change_type, summary, description, source, commit_sha, branch,
                     environment, risk_level, changed_by, tags, occurred_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
# One connection, used from the event loop: SQLite takes one writer at a time anyway, and a
# statement here takes microseconds, less than a hop to a thread would.
connection = sqlite3.connect(os.environ.get("BASELINE_SQLITE_PATH", ":memory:"))
connection.execute("PRAGMA journal_mode=WAL")
connection.execute("PRAGMA synchronous=NORMAL")
connection.execute("PRAGMA foreign_keys=ON")

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/ingest", status_code=201)
async def ingest(request: Request) -> JSONResponse:
    payload: dict[str, Any] = await request.json()
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    change_id = "chg_" + secrets.token_hex(13)
    with connection:
        connection.execute(
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
                json.dumps(payload.get("tags", [])),
                now,
                now,
            ),
        )
    return JSONResponse({"data": {"id": change_id}}, status_code=201)
