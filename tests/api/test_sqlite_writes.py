"""SQLite: changes are written on the event loop's own connection, never waiting there for a lock.

A write that finds SQLite's write lock taken (another process, or a session between two of its
statements) runs again on a writer thread, which waits as long as any writer would, while the
loop goes on serving other requests.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx

from changetrail_api import migrate
from tests.api.conftest import serving, settings_for


async def test_a_write_waits_for_the_lock_off_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    migrate.upgrade(f"sqlite:///{path}")
    settings = settings_for(f"sqlite:///{path}", channels_worker=False)
    async with serving(settings) as http:
        assert (await http.post("/api/v1/changes", json={"summary": "first"})).status_code == 201
        other_writer = sqlite3.connect(path, timeout=0, isolation_level=None)
        other_writer.execute("BEGIN IMMEDIATE")  # holds the write lock
        try:
            waiting = asyncio.create_task(http.post("/api/v1/changes", json={"summary": "waits"}))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            assert (await http.get("/healthz")).status_code == 200  # the loop is free
            assert (await http.get("/api/v1/changes")).json()["meta"]["total"] == 1
        finally:
            other_writer.execute("ROLLBACK")
            other_writer.close()
        response = await asyncio.wait_for(waiting, timeout=10)
        assert response.status_code == 201, response.text
        listed = (await http.get("/api/v1/changes")).json()
        assert [c["summary"] for c in listed["data"]] == ["waits", "first"]
        assert listed["meta"]["total"] == 2


async def test_writes_after_a_wait_go_back_to_the_loop(tmp_path: Path) -> None:
    """Once the other writer lets go, writes that arrived meanwhile take the loop again instead
    of queueing one by one on the writer thread behind the first."""
    path = tmp_path / "busy.db"
    migrate.upgrade(f"sqlite:///{path}")
    settings = settings_for(f"sqlite:///{path}", channels_worker=False)
    async with serving(settings) as http:
        waited_before = await _writes_waited(http)
        other_writer = sqlite3.connect(path, timeout=0, isolation_level=None)
        other_writer.execute("BEGIN IMMEDIATE")
        try:
            first = asyncio.create_task(http.post("/api/v1/changes", json={"summary": "first"}))
            await asyncio.sleep(0.2)  # it meets the lock and moves to the writer thread
            later = [
                asyncio.create_task(http.post("/api/v1/changes", json={"summary": f"later {i}"}))
                for i in range(20)
            ]
            await asyncio.sleep(0.2)
            assert not first.done()
            assert not any(task.done() for task in later)
        finally:
            other_writer.execute("ROLLBACK")
            other_writer.close()
        responses = await asyncio.wait_for(asyncio.gather(first, *later), timeout=10)
        assert [r.status_code for r in responses] == [201] * 21
        # Only the first write needed the writer thread; the later ones waited for it.
        assert await _writes_waited(http) == waited_before + 1
        assert (await http.get("/api/v1/changes")).json()["meta"]["total"] == 21


async def _writes_waited(http: httpx.AsyncClient) -> float:
    """changetrail_sqlite_writes_waited_total, as /metrics shows it."""
    text = (await http.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("changetrail_sqlite_writes_waited_total "):
            return float(line.split()[1])
    raise AssertionError("no changetrail_sqlite_writes_waited_total on /metrics")
