"""What recording changes does when many requests arrive at once.

Changes posted together are all stored, in the order they were made; a process never opens
more database connections than its pools hold; and requests that find a key missing from the
cache together share one look-up.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import _crockford, new_id
from changetrail_api.db import is_sqlite
from changetrail_api.keys import service as keys_service
from tests.api.conftest import Api, KeyFactory, bearer, serving, settings_for


def test_ids_made_in_a_burst_sort_in_the_order_they_were_made() -> None:
    # Thousands within a few milliseconds: most share their millisecond with others.
    made = [new_id("chg") for _ in range(5000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)


_RFC4648_TO_CROCKFORD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz"
)
_TO_RFC4648 = bytes.maketrans(
    b"0123456789abcdefghjkmnpqrstvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
)


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_an_id_spells_its_128_bits_in_crockford_base32(value: int) -> None:
    # The standard library's base32 of the same bits, in Crockford's alphabet, as the oracle.
    expected = base64.b32encode(value.to_bytes(20, "big"))[6:].translate(_RFC4648_TO_CROCKFORD)
    assert _crockford(value) == expected.decode()


def test_an_id_starts_with_the_millisecond_it_was_made() -> None:
    before = int(datetime.now(UTC).timestamp() * 1000)
    made = new_id("chg")
    after = int(datetime.now(UTC).timestamp() * 1000)

    prefix, _, text = made.partition("_")
    value = int.from_bytes(base64.b32decode(b"A" * 6 + text.encode().translate(_TO_RFC4648)))
    assert prefix == "chg"
    assert len(text) == 26
    assert before <= value >> 80 <= after


async def test_changes_posted_one_after_another_list_newest_first(api: Api) -> None:
    made = [(await api.change(f"change {i}"))["id"] for i in range(30)]
    listed = await api.changes(limit=30)
    assert [c["id"] for c in listed["data"]] == made[::-1]


async def test_a_burst_of_posts_is_stored_whole_within_the_pool(database_url: str) -> None:
    pool_size = 2
    settings = settings_for(database_url, db_pool_size=pool_size, channels_worker=False)
    async with serving(settings) as http:
        posts = [
            http.post("/api/v1/changes", json={"summary": f"burst {i}", "tags": ["burst"]})
            for i in range(60)
        ]
        responses = await asyncio.gather(*posts)
        assert [r.status_code for r in responses] == [201] * 60
        if not is_sqlite(database_url):
            # Two pools (recording, and the rest) of pool_size each: never more connections.
            assert _connections_to(database_url) <= 2 * pool_size
        listed = (await http.get("/api/v1/changes", params={"tag": "burst"})).json()
        assert listed["meta"]["total"] == 60
        ids = {r.json()["data"]["id"] for r in responses}
        assert len(ids) == 60


def _connections_to(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_requests_missing_the_key_cache_together_share_one_look_up(
    app: FastAPI, make_key: KeyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await make_key("changes:write", "changes:read")
    look_ups: list[str] = []
    active_key = keys_service.active_key

    async def counted(session: AsyncSession, key_hash: str) -> Any:
        look_ups.append(key_hash)
        return await active_key(session, key_hash)

    monkeypatch.setattr(keys_service, "active_key", counted)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://changetrail.test"
    ) as http:
        posts = [
            http.post("/api/v1/changes", json={"summary": f"s {i}"}, headers=bearer(key))
            for i in range(20)
        ]
        responses = await asyncio.gather(*posts)
    assert [r.status_code for r in responses] == [201] * 20
    assert len(look_ups) == 1
