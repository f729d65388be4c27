"""POST /api/v1/changes/batch: many changes per request, answered item by item."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from changetrail_api.changes import repository
from tests.api.conftest import Api, KeyFactory, bearer, serving, settings_for

BATCH = "/api/v1/changes/batch"
PROBLEM = "application/problem+json"


async def post_batch(client: httpx.AsyncClient, *items: Any) -> dict[str, Any]:
    response = await client.post(BATCH, json={"changes": list(items)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def statuses(body: dict[str, Any]) -> list[str]:
    return [item["status"] for item in body["data"]]


class TestItems:
    async def test_each_item_is_answered_in_request_order(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        service = await api.service("checkout")
        body = await post_batch(
            client,
            {"summary": "Deploy api 1.0", "tags": ["release"], "external_id": "a"},
            {"summary": ""},
            {"summary": "Scale checkout", "change_type": "scaling", "service_id": service["id"]},
            {"summary": "Unknown service", "service_id": "svc_missing"},
            "not an object",
            {"summary": "Ends before it starts", "ended_at": "2020-01-01T00:00:00Z"},
        )

        assert statuses(body) == ["created", "invalid", "created", "invalid", "invalid", "invalid"]
        assert body["meta"] == {"created": 2, "existing": 0, "invalid": 4}
        first, empty, scaled, unknown, not_object, ended = body["data"]
        assert first["change"]["summary"] == "Deploy api 1.0"
        assert first["change"]["tags"] == ["release"]
        assert first["errors"] is None
        assert scaled["change"]["service_name"] == "checkout"
        assert empty["change"] is None
        assert [e["field"] for e in empty["errors"]] == ["summary"]
        assert unknown["errors"] == [
            {"field": "service_id", "message": "no service 'svc_missing' in this organisation"}
        ]
        assert [e["field"] for e in not_object["errors"]] == ["item"]
        assert [e["field"] for e in ended["errors"]] == ["ended_at"]
        stored = await client.get(f"/api/v1/changes/{first['change']['id']}")
        assert stored.json()["data"] == first["change"]

    async def test_an_item_is_validated_as_a_single_post_is(
        self, client: httpx.AsyncClient
    ) -> None:
        item = {"summary": "x", "risk_level": "extreme", "tags": [""]}
        single = await client.post("/api/v1/changes", json=item)
        assert single.status_code == 422
        body = await post_batch(client, item)

        assert body["data"][0]["errors"] == single.json()["errors"]

    async def test_recorded_changes_are_existing_and_name_the_first(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        before = await api.change("Deploy 1", external_id="deploy-1", source="ci")
        body = await post_batch(
            client,
            {"summary": "Deploy 1 again", "external_id": "deploy-1", "source": "ci"},
            {"summary": "Deploy 2", "external_id": "deploy-2", "source": "ci"},
            {"summary": "Deploy 2 twice", "external_id": "deploy-2", "source": "ci"},
            {"summary": "Same id, other source", "external_id": "deploy-2", "source": "cd"},
        )

        assert statuses(body) == ["existing", "created", "existing", "created"]
        assert body["meta"] == {"created": 2, "existing": 2, "invalid": 0}
        assert body["data"][0]["change"] == before
        assert body["data"][2]["change"] == body["data"][1]["change"]
        assert (await api.changes())["meta"]["total"] == 3

    async def test_a_batch_sent_again_stores_nothing_new(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        items = [{"summary": f"Deploy {n}", "external_id": f"d-{n}"} for n in range(20)]
        first = await post_batch(client, *items)
        again = await post_batch(client, *items)

        assert first["meta"]["created"] == 20
        assert again["meta"] == {"created": 0, "existing": 20, "invalid": 0}
        assert [i["change"] for i in again["data"]] == [i["change"] for i in first["data"]]
        assert (await api.changes())["meta"]["total"] == 20


class TestTotals:
    async def test_counters_match_the_rows_afterwards(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        service = await api.service("payments")
        await api.change("before", tags=["db"], environment="staging")
        items: list[Any] = []
        for n in range(60):
            items.append(
                {
                    "summary": f"change {n}",
                    "change_type": ("deployment", "config_change", "scaling")[n % 3],
                    "environment": ("production", "staging")[n % 2],
                    "service_id": service["id"] if n % 4 == 0 else None,
                    "tags": [["db"], ["db", "eu"], []][n % 3],
                    "source": ("ci", "argo")[n % 2],
                    "external_id": f"e-{n % 50}",  # ten repeats within the batch
                }
            )
        body = await post_batch(client, *items)
        assert body["meta"] == {"created": 50, "existing": 10, "invalid": 0}

        queries: list[dict[str, Any]] = [
            {},
            {"tag": "db"},
            {"tag": "eu"},
            {"environment": "staging"},
            {"change_type": "scaling", "source": "argo"},
            {"service_id": service["id"]},
            {"service_id": service["id"], "environment": "production"},
        ]
        for query in queries:
            listed = await api.changes(limit=1, **query)
            everything = await api.changes(limit=100, **query)
            assert listed["meta"]["total"] == len(everything["data"]), query
        assert (await api.changes(limit=1))["meta"]["total"] == 51


class TestRequests:
    async def test_not_a_batch_is_a_422_for_the_whole_request(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        not_batches: list[Any] = [
            {"changes": []},
            {"changes": [{"summary": "x"}] * 1001},
            {"changes": {"summary": "x"}},
            [{"summary": "x"}],
            {"summary": "x"},
            {"changes": [{"summary": "x"}], "other": 1},
        ]
        for body in not_batches:
            response = await client.post(BATCH, json=body)
            assert response.status_code == 422, body
            assert response.headers["content-type"] == PROBLEM
        assert (await api.changes())["meta"]["total"] == 0

    async def test_a_thousand_items_are_accepted(self, client: httpx.AsyncClient, api: Api) -> None:
        body = await post_batch(client, *({"summary": f"c{n}"} for n in range(1000)))

        assert body["meta"]["created"] == 1000
        assert len({item["change"]["id"] for item in body["data"]}) == 1000
        assert (await api.changes(limit=1))["meta"]["total"] == 1000

    async def test_it_needs_the_write_scope(
        self, client: httpx.AsyncClient, make_key: KeyFactory
    ) -> None:
        reader = await make_key("changes:read")
        writer = await make_key("changes:write")
        batch = {"changes": [{"summary": "x"}]}

        refused = await client.post(BATCH, json=batch, headers=bearer(reader))
        assert refused.status_code == 403
        assert refused.headers["content-type"] == PROBLEM
        unknown = await client.post(BATCH, json=batch, headers=bearer("ak_live_" + "x" * 32))
        assert unknown.status_code == 401
        accepted = await client.post(BATCH, json=batch, headers=bearer(writer))
        assert accepted.status_code == 200

    async def test_its_body_limit_is_its_own_setting(self, database_url: str) -> None:
        # Over the single post's 1 MiB, under the batch limit: accepted; over that: a 413.
        settings = settings_for(database_url, max_batch_body_bytes=3 * 1024 * 1024)
        description = "d" * 9000
        items = [{"summary": f"c{n}", "description": description} for n in range(200)]
        async with serving(settings) as http:
            accepted = await http.post(BATCH, json={"changes": items})
            assert accepted.status_code == 200, accepted.text
            refused = await http.post(BATCH, json={"changes": items * 2})
            assert refused.status_code == 413
            assert refused.headers["content-type"] == PROBLEM
            single = await http.post(
                "/api/v1/changes", json={"summary": "x", "description": "y" * 1_100_000}
            )
            assert single.status_code == 413

    async def test_a_database_fault_stores_nothing(
        self, client: httpx.AsyncClient, api: Api, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        original = repository.insert_many_in

        def fails_after_writing(*args: Any) -> set[str]:
            original(*args)
            gone = Exception("server closed the connection")
            raise OperationalError("INSERT", {}, gone, connection_invalidated=True)

        monkeypatch.setattr(repository, "insert_many_in", fails_after_writing)
        response = await client.post(
            BATCH, json={"changes": [{"summary": "a", "tags": ["t"]}, {"summary": "b"}]}
        )

        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        monkeypatch.undo()
        assert (await api.changes())["meta"]["total"] == 0
        assert (await api.changes(tag="t"))["data"] == []


@pytest.fixture
async def with_channel(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(
        database_url,
        channels_worker=False,
        secret_key="batch-tests-secret-key-0123456789abcdef",
    )
    async with serving(settings) as http:
        response = await http.post(
            "/api/v1/channels",
            json={"name": "hook", "kind": "webhook", "url": "https://receiver.example/hook"},
        )
        assert response.status_code == 201, response.text
        yield http


async def test_created_changes_are_queued_for_channels_once(
    with_channel: httpx.AsyncClient,
) -> None:
    await with_channel.post("/api/v1/changes", json={"summary": "x", "external_id": "old"})
    body = await post_batch(
        with_channel,
        {"summary": "a", "external_id": "old"},
        {"summary": "b", "external_id": "new"},
        {"summary": "c", "external_id": "new"},
        {"summary": "d"},
        {"summary": ""},
    )
    created = {i["change"]["id"] for i in body["data"] if i["status"] == "created"}
    transport = with_channel._transport
    assert isinstance(transport, httpx.ASGITransport)
    engine = transport.app.state.engine  # type: ignore[attr-defined]
    async with engine.connect() as connection:
        queued = (await connection.execute(text("SELECT change_id FROM channel_outbox"))).all()

    assert len(created) == 2
    assert created <= {row[0] for row in queued}
    assert len(queued) == 3  # the earlier single post's, and the batch's two
