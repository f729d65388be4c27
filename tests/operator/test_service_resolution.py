"""Services during a catch-up: new names created concurrently within a bound, each once, a 409
resolved by a look-up, and the next rounds' services resolved while a batch is posted, without
changing what is posted or in which order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from changetrail_operator import api_client
from changetrail_operator.api_client import ChangetrailClient
from changetrail_operator.outbox import Outbox
from tests.operator.test_outbox import BATCH, FakeApi, _delivery, _drained

SERVICES = "/api/v1/services"
Hook = Callable[[httpx.Request], Awaitable[None]]


class SlowApi:
    """The fake API behind an async transport: ``hook`` runs before each answer (to hold a
    request), and the service creations in flight are counted."""

    def __init__(self, api: FakeApi) -> None:
        self.api = api
        self.hook: Hook | None = None
        self.creating = 0
        self.most_creating = 0
        self.answered = asyncio.Condition()  # notified after each answer

    def _crowded(self) -> bool:
        return self.creating > api_client.SERVICE_REQUESTS_AT_ONCE

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        creating = request.method == "POST" and request.url.path == SERVICES
        if creating:
            self.creating += 1
            self.most_creating = max(self.most_creating, self.creating)
        try:
            await asyncio.sleep(0.001)  # every answer takes a while: requests overlap
            if creating:
                # Answered once more are in flight than the bound allows, or after a while:
                # the most in flight is then the bound itself, however slow the machine.
                async with self.answered:
                    self.answered.notify_all()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.answered.wait_for(self._crowded), 0.05)
            if self.hook is not None:
                await self.hook(request)
            return self.api(request)
        finally:
            if creating:
                self.creating -= 1
            async with self.answered:
                self.answered.notify_all()


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def slow(api: FakeApi) -> SlowApi:
    return SlowApi(api)


@pytest.fixture
async def http(slow: SlowApi) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.MockTransport(slow)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


@pytest.fixture
async def make_outbox(http: httpx.AsyncClient) -> AsyncIterator[Callable[..., Outbox]]:
    workers: list[asyncio.Task[None]] = []

    def make(**options: Any) -> Outbox:
        settings: dict[str, Any] = {"capacity": 100, "retry_base": 0.001, "retry_max": 0.002}
        box = Outbox(ChangetrailClient(http), batch_wait=0.0, **(settings | options))
        workers.append(asyncio.create_task(box.run()))
        return box

    yield make
    for worker in workers:
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker


def _created(api: FakeApi) -> list[str]:
    posted = [(method, path, body) for method, path, body in api.calls if path == SERVICES]
    return [body["name"] for method, _, body in posted if method == "POST"]


async def test_new_services_are_created_concurrently_within_the_bound_each_once(
    make_outbox: Callable[..., Outbox], api: FakeApi, slow: SlowApi
) -> None:
    outbox = make_outbox()
    for n in range(60):
        outbox.offer(_delivery(str(n), uid=str(n), service=f"svc-{n % 40}"))
    await _drained(outbox)

    assert slow.most_creating == api_client.SERVICE_REQUESTS_AT_ONCE
    assert sorted(_created(api)) == sorted(f"svc-{n}" for n in range(40))
    assert api.posted() == [str(n) for n in range(60)]


async def test_a_name_asked_for_at_once_by_many_is_resolved_once(
    http: httpx.AsyncClient, api: FakeApi
) -> None:
    client = ChangetrailClient(http)
    ids = await asyncio.gather(*(client.service_id("checkout") for _ in range(5)))
    assert ids == ["svc_1"] * 5
    assert _created(api) == ["checkout"]
    assert await client.service_id("checkout") == "svc_1"  # and kept
    assert _created(api) == ["checkout"]


async def test_a_service_created_meanwhile_elsewhere_is_looked_up_on_its_409(
    make_outbox: Callable[..., Outbox], api: FakeApi, slow: SlowApi
) -> None:
    async def created_by_another_replica(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path == SERVICES:
            api.services["payments"] = "svc_other"  # it wins the race: 409 below

    slow.hook = created_by_another_replica
    api.script = [lambda request: None]  # the listing: nothing exists yet
    conflict = {"title": "Conflict", "status": 409}
    api.script.append(lambda request: httpx.Response(409, json=conflict))
    outbox = make_outbox()
    outbox.offer(_delivery("one", uid="a", service="payments"))
    outbox.offer(_delivery("two", uid="b", service="payments"))
    await _drained(outbox)

    assert _created(api) == ["payments"]  # tried once, never again
    looked_up = [body for m, p, body in api.calls if (m, p) == ("GET", SERVICES)]
    assert len(looked_up) == 2  # the listing, then the look-up by name after the 409
    [(_, _, batch)] = [call for call in api.calls if call[1] == BATCH]
    assert [change["service_id"] for change in batch["changes"]] == ["svc_other"] * 2


async def test_the_next_rounds_services_are_created_while_a_batch_is_posted(
    make_outbox: Callable[..., Outbox], api: FakeApi, slow: SlowApi
) -> None:
    first_batch_answered = asyncio.Event()
    created_before_answer: list[str] = []

    async def hold_first_batch(request: httpx.Request) -> None:
        if request.url.path == BATCH and not first_batch_answered.is_set():
            # Held until the next rounds' services exist: without the look-ahead this waits
            # forever, and the test times out.
            async with slow.answered:
                await slow.answered.wait_for(lambda: len(_created(api)) == 6)
            created_before_answer.extend(_created(api))
            first_batch_answered.set()

    slow.hook = hold_first_batch
    outbox = make_outbox(batch_max=2)
    for n in range(6):
        outbox.offer(_delivery(str(n), uid=str(n), service=f"svc-{n}"))
    await _drained(outbox)

    assert sorted(created_before_answer) == [f"svc-{n}" for n in range(6)]
    assert sorted(_created(api)) == [f"svc-{n}" for n in range(6)]  # each once
    assert api.requests_of_changes() == [["0", "1"], ["2", "3"], ["4", "5"]]


async def test_a_failed_round_is_retried_whole_first_while_services_are_resolved_ahead(
    make_outbox: Callable[..., Outbox], api: FakeApi, slow: SlowApi
) -> None:
    failures = [503, 503]

    async def fail_first_batches(request: httpx.Request) -> None:
        if request.url.path == BATCH and failures:
            status = failures.pop()
            api.script.insert(0, lambda _: httpx.Response(status, json={"status": status}))

    slow.hook = fail_first_batches
    outbox = make_outbox(batch_max=2)
    for n, uid in enumerate(["a", "b", "a", "c", "a", "d"]):
        outbox.offer(_delivery(f"{uid}{n}", uid=uid, service=f"svc-{uid}"))
    await _drained(outbox)

    assert api.requests_of_changes() == [
        ["a0", "b1"],  # refused twice, then taken: nothing newer goes before it
        ["a0", "b1"],
        ["a0", "b1"],
        ["a2", "c3"],
        ["a4", "d5"],
    ]
    assert sorted(_created(api)) == ["svc-a", "svc-b", "svc-c", "svc-d"]
