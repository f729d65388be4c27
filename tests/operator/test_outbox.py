"""Delivery to the API: order, retries with backoff, rejections and batching of states."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from changetrail_operator.api_client import ChangetrailClient, StoredObject
from changetrail_operator.drafts import ChangeDraft, ChangeType
from changetrail_operator.outbox import Delivery, Outbox


class FakeApi:
    """Answers like the API; ``script`` may override a response per request."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.script: list[Callable[[httpx.Request], httpx.Response | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body: Any = json.loads(request.content) if request.content else {}
        self.calls.append((request.method, request.url.path, body))
        if self.script:
            response = self.script.pop(0)(request)
            if response is not None:
                return response
        if request.url.path == "/api/v1/services" and request.method == "GET":
            return httpx.Response(200, json={"data": [], "meta": {}})
        if request.url.path == "/api/v1/services":
            return httpx.Response(201, json={"data": {"id": "svc_1", "name": body["name"]}})
        if request.url.path == "/api/v1/operator/objects":
            return httpx.Response(200, json={"data": {"stored": len(body["items"])}})
        return httpx.Response(201, json={"data": {"id": "chg_1"}})

    def posted(self) -> list[str]:
        return [body["summary"] for method, path, body in self.calls if path == "/api/v1/changes"]


def _fail(status: int) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json={"title": "nope", "status": status})


def _down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
async def outbox(api: FakeApi) -> AsyncIterator[Outbox]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(api), base_url="http://api") as http:
        box = Outbox(ChangetrailClient(http), capacity=3, retry_base=0.001, retry_max=0.002)
        worker = asyncio.create_task(box.run())
        try:
            yield box
        finally:
            worker.cancel()
            with pytest.raises(asyncio.CancelledError):
                await worker


def _delivery(summary: str, uid: str = "u1", service: str | None = "api") -> Delivery:
    draft = ChangeDraft(summary=summary, change_type=ChangeType.DEPLOYMENT, service_name=service)
    state = StoredObject("c", "Deployment", uid, "ns", "api", "sha256:x", {"n": summary})
    return Delivery(changes=[draft], store=state)


async def _drained(outbox: Outbox) -> None:
    await asyncio.wait_for(outbox.wait_until(lambda: len(outbox) == 0), timeout=5)


async def test_changes_are_posted_in_order_before_their_states(
    outbox: Outbox, api: FakeApi
) -> None:
    assert outbox.offer(_delivery("one"))
    assert outbox.offer(_delivery("two", uid="u2"))
    await _drained(outbox)

    paths = [path for _method, path, _body in api.calls]
    assert api.posted() == ["one", "two"]
    assert paths.index("/api/v1/operator/objects") > paths.index("/api/v1/changes")
    [(_, _, stored)] = [call for call in api.calls if call[1] == "/api/v1/operator/objects"]
    assert [item["uid"] for item in stored["items"]] == ["u1", "u2"]
    # The service is resolved once and then cached.
    assert [c[:2] for c in api.calls].count(("POST", "/api/v1/services")) == 1


async def test_outages_and_server_errors_are_retried_until_delivered(
    outbox: Outbox, api: FakeApi
) -> None:
    api.script = [_down, _fail(503), _fail(429)]
    outbox.offer(_delivery("one", service=None))
    await _drained(outbox)
    assert api.posted() == ["one", "one", "one", "one"]


async def test_a_rejected_change_is_dropped_without_blocking_the_next(
    outbox: Outbox, api: FakeApi
) -> None:
    api.script = [_fail(422)]
    outbox.offer(_delivery("bad", service=None))
    outbox.offer(_delivery("good", uid="u2", service=None))
    await _drained(outbox)
    assert api.posted() == ["bad", "good"]
    assert outbox.recorded == 1


async def test_a_full_queue_refuses_more(outbox: Outbox, api: FakeApi) -> None:
    api.script = [_down] * 1000  # keep the worker failing so nothing drains
    offers = [outbox.offer(_delivery(str(n), uid=str(n))) for n in range(4)]
    assert offers == [True, True, True, False]
    assert outbox.full


async def test_a_key_without_service_scopes_records_changes_without_services(
    outbox: Outbox, api: FakeApi
) -> None:
    api.script = [_fail(403)]  # GET /api/v1/services
    outbox.offer(_delivery("one"))
    await _drained(outbox)
    [change] = [body for _m, path, body in api.calls if path == "/api/v1/changes"]
    assert change["summary"] == "one"
    assert "service_id" not in change


async def test_stored_states_are_loaded_page_by_page() -> None:
    pages = {
        None: {"data": [_stored_json("u1")], "meta": {"next_after": "c1"}},
        "c1": {"data": [_stored_json("u2")], "meta": {"next_after": None}},
    }
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after")
        seen.append(after)
        assert request.url.params["cluster"] == "prod-eu"
        return httpx.Response(200, json=pages[after])

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url="http://api"
    ) as http:
        client = ChangetrailClient(http)
        loaded = [item.uid async for item in client.list_states("prod-eu")]

    assert loaded == ["u1", "u2"]
    assert seen == [None, "c1"]


def _stored_json(uid: str) -> dict[str, Any]:
    return {
        "cluster": "prod-eu",
        "kind": "ConfigMap",
        "uid": uid,
        "namespace": "payments",
        "name": uid,
        "fingerprint": "sha256:x",
        "state": {"data": {}},
        "updated_at": "2026-01-01T00:00:00.000Z",
    }
