"""The outbox: a change is queued in the transaction that stores it, and routed exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import text

from changetrail_api.changes import service as changes_service
from changetrail_api.changes.schemas import ChangeCreate
from changetrail_api.channels import dispatch
from tests.channels.conftest import Serve
from tests.channels.support import AppClient, create_channel, post_change

URL = "https://receiver.example/hook"


async def rows(client: AppClient, table: str) -> list[tuple[object, ...]]:
    async with client.app.state.engine.connect() as connection:
        result = await connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
        return [tuple(row) for row in result]


async def org_id(client: AppClient) -> str:
    (found,) = await rows(client, "organisations")
    return str(found[0])


class TestQueueing:
    async def test_without_an_enabled_channel_nothing_is_queued(self, serve: Serve) -> None:
        async with serve(channels_worker=False) as client:
            await post_change(client, "before any channel")
            await create_channel(client, kind="webhook", url=URL, enabled=False)
            await post_change(client, "with a disabled channel")
            assert await rows(client, "channel_outbox") == []

    async def test_each_new_change_is_queued_once(self, serve: Serve) -> None:
        async with serve(channels_worker=False) as client:
            await create_channel(client, kind="webhook", url=URL)
            first = await post_change(client, external_id="deploy-1")
            replay = await client.post(
                "/api/v1/changes", json={"summary": "again", "external_id": "deploy-1"}
            )
            assert replay.status_code == 200
            second = await post_change(client)
            queued = {row[0] for row in await rows(client, "channel_outbox")}
        assert queued == {first["id"], second["id"]}

    async def test_changes_from_a_webhook_receiver_are_queued_too(self, serve: Serve) -> None:
        async with serve(channels_worker=False) as client:
            await create_channel(client, kind="webhook", url=URL)
            endpoint = (await client.post("/api/v1/webhooks", json={"name": "ci"})).json()["data"]
            response = await client.post(
                endpoint["path"], json={"summary": "Deploy from CI", "external_id": "ci-1"}
            )
            assert response.status_code == 201, response.text
            (recorded,) = response.json()["data"]["changes"]
            queued = [row[0] for row in await rows(client, "channel_outbox")]
        assert queued == [recorded["id"]]

    async def test_the_outbox_row_commits_and_rolls_back_with_its_change(
        self, serve: Serve
    ) -> None:
        async with serve(channels_worker=False) as client:
            await create_channel(client, kind="webhook", url=URL)
            org = await org_id(client)
            maker = client.app.state.sessionmaker
            async with maker() as session:
                await changes_service.record(session, org, ChangeCreate(summary="undone"))
                await session.rollback()
            assert await rows(client, "channel_outbox") == []
            assert await rows(client, "changes") == []
            async with maker.begin() as session:
                kept, _ = await changes_service.record(session, org, ChangeCreate(summary="kept"))
            assert [row[0] for row in await rows(client, "channel_outbox")] == [kept.id]


async def test_two_routers_at_once_create_each_delivery_once(serve: Serve) -> None:
    """Two replicas' workers routing the same outbox: one delivery per channel and change."""
    async with serve(channels_worker=False) as client:
        await create_channel(client, name="a", kind="webhook", url=URL)
        await create_channel(client, name="b", kind="slack", url=URL)
        changes = [await post_change(client, f"Deploy {n}") for n in range(30)]
        maker = client.app.state.sessionmaker

        async def route() -> int:
            async with maker.begin() as session:
                return await dispatch.route(
                    session, limit=1000, now=datetime.now(UTC), give_up_after=60
                )

        routed = await asyncio.gather(route(), route(), route())
        assert await route() == 0
        deliveries = await rows(client, "channel_deliveries")
        assert await rows(client, "channel_outbox") == []
    assert sum(routed) >= 30
    pairs = [(row[2], row[3]) for row in deliveries]  # channel_id, change_id
    assert len(pairs) == len(set(pairs)) == 60
    assert {change_id for _, change_id in pairs} == {c["id"] for c in changes}
