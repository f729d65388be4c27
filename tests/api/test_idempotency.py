"""Retries and redeliveries never duplicate; parallel posts lose nothing."""

from __future__ import annotations

import asyncio

import httpx

from tests.api.conftest import Api


class TestExternalId:
    async def test_repost_returns_the_existing_change_with_200(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        body = {"summary": "Deploy 1.2", "source": "jenkins", "external_id": "build-981"}
        first = await client.post("/api/v1/changes", json=body)
        again = await client.post("/api/v1/changes", json={**body, "summary": "edited"})
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        assert (await api.changes())["meta"]["total"] == 1

    async def test_same_external_id_from_another_source_is_another_change(
        self, client: httpx.AsyncClient
    ) -> None:
        a = await client.post("/api/v1/changes", json={"summary": "a", "external_id": "1"})
        b = await client.post(
            "/api/v1/changes", json={"summary": "b", "external_id": "1", "source": "gitlab"}
        )
        assert (a.status_code, b.status_code) == (201, 201)

    async def test_idempotency_key_header_replays_when_no_external_id(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        headers = {"Idempotency-Key": "retry-7"}
        first = await client.post("/api/v1/changes", json={"summary": "a"}, headers=headers)
        again = await client.post("/api/v1/changes", json={"summary": "a"}, headers=headers)
        other = await client.post("/api/v1/changes", json={"summary": "a"})
        assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
        assert first.json()["data"]["id"] == again.json()["data"]["id"]
        assert (await api.changes())["meta"]["total"] == 2


class TestConcurrency:
    async def test_parallel_posts_of_one_external_id_store_one(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        body = {"summary": "Deploy", "external_id": "delivery-1"}
        responses = await asyncio.gather(
            *(client.post("/api/v1/changes", json=body) for _ in range(20))
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 19 + [201]
        assert len({r.json()["data"]["id"] for r in responses}) == 1
        assert (await api.changes())["meta"]["total"] == 1

    async def test_many_parallel_posts_none_lost_none_duplicated(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/changes",
                    json={"summary": f"change {i}", "external_id": f"e{i % 40}", "tags": ["p"]},
                )
                for i in range(80)
            )
        )
        assert all(r.status_code in (200, 201) for r in responses)
        assert sum(r.status_code == 201 for r in responses) == 40
        listed = await api.changes(limit=100)
        assert listed["meta"]["total"] == 40
        assert len({c["external_id"] for c in listed["data"]}) == 40
        assert (await api.changes(tag="p", limit=1))["meta"]["total"] == 40
