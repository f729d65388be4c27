"""A running changetrail for the browser suite: uvicorn on 127.0.0.1, seeded over its API."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from changetrail_api import migrate
from changetrail_api.app import create_app
from changetrail_api.db import create_engine, create_sessionmaker
from changetrail_api.keys import service as keys_service
from tests.api.conftest import ADMIN_KEY, bearer, settings_for


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Site:
    base: str
    database: Path
    admin: httpx.Client
    ids: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path

    def key(self, *scopes: str, org: str = "default") -> str:
        """A new key, in any organisation (the API only issues keys in the caller's own)."""

        async def issue() -> str:
            engine = create_engine(f"sqlite:///{self.database}")
            try:
                async with create_sessionmaker(engine).begin() as session:
                    issued = await keys_service.issue_for_org_slug(
                        session, org, "browser", list(scopes)
                    )
                    return issued.key
            finally:
                await engine.dispose()

        # Playwright's synchronous API keeps an event loop running in this thread.
        with ThreadPoolExecutor(1) as worker:
            return worker.submit(asyncio.run, issue()).result()

    def post(self, path: str, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        headers = bearer(key) if key else None
        response = self.admin.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def backdate(self) -> None:
        """Record every change as of when it happened (``created_at = occurred_at``).

        The API stamps ``created_at`` with the time it records a change, which the timeline
        orders and filters by; a suite that wants a week of history to zoom into has to move
        the stamps of the changes it just posted.
        """
        with sqlite3.connect(self.database) as connection:
            connection.execute("UPDATE changes SET created_at = occurred_at")


@contextmanager
def running(folder: Path) -> Iterator[Site]:
    database = folder / "changetrail.db"
    url = f"sqlite:///{database}"
    migrate.upgrade(url)
    app = create_app(settings_for(url), run_migrations=False)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    thread = threading.Thread(target=server.run, name="changetrail-site", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the site did not start")
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers=bearer(ADMIN_KEY), timeout=30) as admin:
            yield Site(base=base, database=database, admin=admin)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


NOW = datetime.now(UTC).replace(microsecond=0)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).isoformat().replace("+00:00", "Z")
