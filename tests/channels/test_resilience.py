"""Nothing lost, nothing doubled: a receiver that goes away, an API killed mid-delivery, and two
API processes delivering from one PostgreSQL database."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.channels.conftest import Serve
from tests.channels.processes import ApiProcess
from tests.channels.receiver import Received, Receiver, Reply
from tests.channels.support import all_in, create_channel, post_change, wait_for_deliveries
from tests.support.postgres import PostgresServer

_numbers = itertools.count()


def events(requests: list[Received]) -> list[tuple[str, str]]:
    """(event id, change id) of every CloudEvent received, batches unpacked."""
    found = []
    for request in requests:
        document = request.json()
        for event in document if isinstance(document, list) else [document]:
            found.append((event["id"], event["subject"]))
    return found


def changes_seen(requests: list[Received]) -> set[str]:
    return {change_id for _, change_id in events(requests)}


@pytest.mark.parametrize("down_seconds", [2.0, 30.0], ids=["shortened", "literal-30s"])
async def test_a_receiver_down_for_a_while_gets_everything_once_it_is_back(
    serve: Serve, receiver: Receiver, down_seconds: float
) -> None:
    """The receiver is down for ``down_seconds``; retries back off (up to 2 s here) meanwhile."""
    async with serve(channels_retry_max_seconds=2.0) as client:
        channel = await create_channel(client, kind="webhook", url=receiver.url + "/hook")
        await receiver.down()
        posted = [await post_change(client, f"Deploy {n}") for n in range(5)]
        # Failing, and retried: the log says why while the receiver is away.
        log = await wait_for_deliveries(
            client,
            channel["id"],
            lambda found: len(found) == 5 and all(d["attempts"] >= 2 for d in found),
        )
        assert {d["state"] for d in log} <= {"pending", "sending"}
        assert "could not connect" in log[0]["last_error"]
        await asyncio.sleep(down_seconds)
        await receiver.up()
        log = await wait_for_deliveries(client, channel["id"], all_in("delivered", 5), within=10)
    assert changes_seen(receiver.requests) == {c["id"] for c in posted}
    ids = [event_id for event_id, _ in events(receiver.requests)]
    assert len(ids) == len(set(ids)) == 5


async def test_an_api_killed_mid_delivery_loses_nothing(
    database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    """SIGKILL while a message is in flight and more are queued; a new process finishes it.

    The message in flight may reach the receiver twice (its answer was never recorded), with
    the same CloudEvents id, so a receiver that drops ids it has seen shows each change once.
    """
    held = asyncio.Event()
    receiver.responder = lambda _r: Reply() if held.is_set() else Reply(hang=True)
    log = tmp_path / "api.log"
    first = await ApiProcess(database_url, log).start()
    try:
        async with first.client() as client:
            channel = await create_channel(client, kind="webhook", url=receiver.url + "/hook")
            posted = [await post_change(client, f"Deploy {n}") for n in range(30)]
        await receiver.wait_for(lambda requests: len(requests) >= 1)
    finally:
        await first.kill()
    in_flight = {event_id for event_id, _ in events(receiver.requests)}
    held.set()

    second = await ApiProcess(database_url, log).start()
    try:
        async with second.client() as client:
            await wait_for_deliveries(client, channel["id"], all_in("delivered", 30), within=30)
    finally:
        await second.stop()
    assert changes_seen(receiver.requests) == {c["id"] for c in posted}
    sent = Counter(event_id for event_id, _ in events(receiver.requests))
    assert len(sent) == 30
    assert {event_id for event_id, times in sent.items() if times > 1} <= in_flight
    assert all(times <= 2 for times in sent.values())


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, postgres_template: str) -> Iterator[str]:
    name = f"ct_channels_{next(_numbers)}"
    with psycopg.connect(postgres_server.url(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    yield postgres_server.url(name)
    with psycopg.connect(postgres_server.url(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def two_apis(postgres_url: str, tmp_path: Path) -> AsyncIterator[list[ApiProcess]]:
    # Calls may take 5 s before an answer counts as lost, so a busy machine loses none: any
    # resend here would be two workers sending one message, which must never happen. Leases
    # are short (20 s), so a worker still sending a claim's last message long after claiming
    # it must have renewed it.
    slow = {"channels_timeout_seconds": 5, "channels_lease_seconds": 20}
    apis = [ApiProcess(postgres_url, tmp_path / f"api-{n}.log", **slow) for n in range(2)]
    try:
        for api in apis:
            await api.start()
        yield apis
    finally:
        for api in apis:
            await api.stop()


async def test_two_api_processes_on_one_database_send_each_change_once(
    two_apis: list[ApiProcess], receiver: Receiver
) -> None:
    async with two_apis[0].client() as a, two_apis[1].client() as b:
        channels = [
            await create_channel(a, name=f"hook {n}", kind="webhook", url=f"{receiver.url}/{n}")
            for n in range(4)
        ]
        posted = []
        for batch in range(10):
            posted += await asyncio.gather(
                *(post_change(a if n % 2 else b, f"Deploy {batch}.{n}") for n in range(20))
            )
        # 200 changes, so 200 deliveries per channel: both pages of 100 delivered.
        for channel in channels:
            for offset in (0, 100):
                await wait_for_deliveries(
                    a,
                    channel["id"],
                    lambda found: (
                        len(found) == 100 and all(d["state"] == "delivered" for d in found)
                    ),
                    within=60,
                    offset=offset,
                )
        sent = [(await api.get("/metrics")).text for api in (a, b)]
    for n in range(4):
        requests = receiver.posts(f"/{n}")
        ids = [event_id for event_id, _ in events(requests)]
        assert len(ids) == len(set(ids)) == 200
        assert changes_seen(requests) == {c["id"] for c in posted}
    for metrics in sent:
        assert "changetrail_channel_deliveries_total" in metrics
