"""The ingest ceiling: the same single-row insert as ``POST /api/v1/changes``, with raw psycopg.

A bare ASGI callable (no framework, no validation, no auth) over a psycopg connection pool: what
the database and the HTTP server alone can do, for the API to be measured against.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

_pool: AsyncConnectionPool | None = None
ORG_ID = os.environ.get("BASELINE_ORG_ID", "org_bench")
INSERT = """
INSERT INTO changes (id, org_id, change_type, summary, source, environment, risk_level, tags,
                     occurred_at, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _pool
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                url = os.environ["BASELINE_DATABASE_URL"]
                _pool = AsyncConnectionPool(url, min_size=10, max_size=20, open=False)
                await _pool.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _pool is not None:
                    await _pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/healthz":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    payload = json.loads(body)
    now = datetime.now(UTC).replace(tzinfo=None)
    change_id = "chg_" + secrets.token_hex(13)
    assert _pool is not None
    async with _pool.connection() as connection:
        await connection.execute(
            INSERT,
            (
                change_id,
                ORG_ID,
                payload.get("change_type", "deployment"),
                payload["summary"],
                "api",
                "production",
                "low",
                Jsonb(payload.get("tags", [])),
                now,
                now,
            ),
        )
    out = json.dumps({"data": {"id": change_id}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": out})
