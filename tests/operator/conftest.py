from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from changetrail_operator.api_client import ChangetrailClient
from changetrail_operator.drafts import ChangeDraft
from changetrail_operator.inventory import StaticInventory
from changetrail_operator.observer import Observer
from changetrail_operator.outbox import Outbox
from changetrail_operator.settings import OperatorSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def inventory() -> StaticInventory:
    return StaticInventory()


@pytest.fixture
async def idle_http() -> AsyncIterator[httpx.AsyncClient]:
    # The observer tests never let the outbox run; any request would be a test bug.
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request {request.method} {request.url}")

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(refuse), base_url="http://api"
    ) as http:
        yield http


ObserverFactory = Callable[..., Observer]


@pytest.fixture
def make_observer(idle_http: httpx.AsyncClient, clock: FakeClock) -> Iterator[ObserverFactory]:
    made: list[Observer] = []

    def make(**overrides: Any) -> Observer:
        capacity = int(overrides.pop("queue_max", 1000))
        settings = OperatorSettings.model_validate(
            {"cluster_name": "prod-eu", "queue_max": capacity, "hpa_settle_seconds": 0, **overrides}
        )
        outbox = Outbox(ChangetrailClient(idle_http), capacity=capacity)
        observer = Observer(settings, outbox, clock=clock)
        # As if the operator had first started long before any object in these tests.
        observer.baseline_since = datetime(2026, 6, 1, tzinfo=UTC)
        made.append(observer)
        return observer

    yield make
    for observer in made:
        observer.close()


@pytest.fixture
def observer(make_observer: ObserverFactory) -> Observer:
    return make_observer()


def drafts(observer: Observer) -> list[ChangeDraft]:
    return [draft for delivery in observer.outbox.queued() for draft in delivery.changes]


def summaries(observer: Observer) -> list[str]:
    return [draft.summary for draft in drafts(observer)]
