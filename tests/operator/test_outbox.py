"""Delivery to the API: batches, order, retries with backoff, rejections, the fallback to single
posts, and batching of states."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from changetrail_operator import api_client
from changetrail_operator.api_client import ChangetrailClient, StoredObject
from changetrail_operator.drafts import ChangeDraft, ChangeType, Completion, Outcome
from changetrail_operator.outbox import SINGLE_POSTS_SECONDS, Delivery, Outbox
from tests.operator.conftest import FakeClock

BATCH = "/api/v1/changes/batch"
SINGLE = "/api/v1/changes"


class FakeApi:
    """Answers like the API; ``script`` may override a response per request.

    Changes are stored by ``external_id`` (a summary when there is none), so a change sent
    again is answered as the API would: "existing", and stored once.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.script: list[Callable[[httpx.Request], httpx.Response | None]] = []
        self.batch_supported = True
        self.invalid: set[str] = set()  # summaries answered as invalid
        self.stored: dict[str, str] = {}  # external_id → change id
        self.services: dict[str, str] = {}  # name → id of the services that exist

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body: Any = json.loads(request.content) if request.content else {}
        self.calls.append((request.method, request.url.path, body))
        if self.script:
            response = self.script.pop(0)(request)
            if response is not None:
                return response
        path = request.url.path
        if path == "/api/v1/services" and request.method == "GET":
            return self._services(request.url.params)
        if path == "/api/v1/services":
            return httpx.Response(201, json={"data": {"id": "svc_1", "name": body["name"]}})
        if path == "/api/v1/operator/objects":
            return httpx.Response(200, json={"data": {"stored": len(body["items"])}})
        if path == BATCH:
            if not self.batch_supported:
                return httpx.Response(405, json={"title": "Method Not Allowed", "status": 405})
            answers = [self.store(item) for item in body["changes"]]
            counts = {s: sum(a["status"] == s for a in answers) for s in ("created", "existing")}
            return httpx.Response(200, json={"data": answers, "meta": counts})
        if path == SINGLE and request.method == "POST":
            answer = self.store(body)
            if answer["status"] == "invalid":
                return httpx.Response(422, json={"title": "invalid", "status": 422})
            status = 201 if answer["status"] == "created" else 200
            return httpx.Response(status, json={"data": answer["change"]})
        if path.startswith(SINGLE + "/") and request.method == "PATCH":
            return httpx.Response(200, json={"data": {"id": path.rsplit("/", 1)[1]}})
        raise AssertionError(f"unexpected request {request.method} {path}")

    def _services(self, params: httpx.QueryParams) -> httpx.Response:
        items = [{"id": id_, "name": name} for name, id_ in self.services.items()]
        if "name" in params:
            found = [item for item in items if item["name"] == params["name"]]
            return httpx.Response(200, json={"data": found, "meta": {}})
        offset, limit = int(params["offset"]), int(params["limit"])
        meta = {"has_more": offset + limit < len(items)}
        return httpx.Response(200, json={"data": items[offset : offset + limit], "meta": meta})

    def store(self, change: dict[str, Any]) -> dict[str, Any]:
        if change["summary"] in self.invalid:
            errors = [{"field": "summary", "message": "not allowed"}]
            return {"status": "invalid", "change": None, "errors": errors}
        key = change.get("external_id") or change["summary"]
        status = "existing" if key in self.stored else "created"
        change_id = self.stored.setdefault(key, f"chg_{len(self.stored)}")
        return {"status": status, "change": {"id": change_id, **change}, "errors": None}

    def posted(self) -> list[str]:
        """Summaries sent, in order, one by one or in batches."""
        return [summary for batch in self.requests_of_changes() for summary in batch]

    def requests_of_changes(self) -> list[list[str]]:
        """Summaries per request that sent changes."""
        sent: list[list[str]] = []
        for method, path, body in self.calls:
            if path == BATCH:
                sent.append([change["summary"] for change in body["changes"]])
            elif path == SINGLE and method == "POST":
                sent.append([body["summary"]])
        return sent

    def paths(self) -> list[str]:
        return [path for _method, path, _body in self.calls]


def _fail(status: int) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json={"title": "nope", "status": status})


def _down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


OutboxFactory = Callable[..., Outbox]


@pytest.fixture
async def make_outbox(api: FakeApi) -> AsyncIterator[OutboxFactory]:
    workers: list[asyncio.Task[None]] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(api), base_url="http://api") as http:

        def make(**options: Any) -> Outbox:
            settings: dict[str, Any] = {
                "capacity": 3,
                "retry_base": 0.001,
                "retry_max": 0.002,
                "batch_wait": 0.0,
            }
            box = Outbox(ChangetrailClient(http), **(settings | options))
            workers.append(asyncio.create_task(box.run()))
            return box

        try:
            yield make
        finally:
            for worker in workers:
                worker.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await worker


@pytest.fixture
async def outbox(make_outbox: OutboxFactory) -> Outbox:
    return make_outbox()


def _delivery(
    summary: str,
    uid: str = "u1",
    service: str | None = "api",
    outcome: Outcome | None = None,
    completions: list[Completion] | None = None,
) -> Delivery:
    draft = ChangeDraft(
        summary=summary,
        change_type=ChangeType.DEPLOYMENT,
        service_name=service,
        external_id=f"k8s:{uid}:{summary}",
        outcome=outcome,
    )
    state = StoredObject("c", "Deployment", uid, "ns", "api", "sha256:x", {"n": summary})
    return Delivery(changes=[draft], store=state, completions=completions or [])


async def _drained(outbox: Outbox) -> None:
    await asyncio.wait_for(outbox.wait_until(lambda: len(outbox) == 0), timeout=5)


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_pending_changes_go_in_one_batch_before_their_states(
    outbox: Outbox, api: FakeApi
) -> None:
    sent_before = _sample("changetrail_operator_batches_sent_total")
    assert outbox.offer(_delivery("one"))
    assert outbox.offer(_delivery("two", uid="u2"))
    await _drained(outbox)

    assert api.requests_of_changes() == [["one", "two"]]
    assert api.paths().index("/api/v1/operator/objects") > api.paths().index(BATCH)
    [(_, _, stored)] = [call for call in api.calls if call[1] == "/api/v1/operator/objects"]
    assert [item["uid"] for item in stored["items"]] == ["u1", "u2"]
    # The service is resolved once and then cached.
    assert [c[:2] for c in api.calls].count(("POST", "/api/v1/services")) == 1
    assert outbox.recorded == 2
    assert _sample("changetrail_operator_batches_sent_total") == sent_before + 1


async def test_a_batch_is_sent_as_soon_as_it_is_full(
    make_outbox: OutboxFactory, api: FakeApi
) -> None:
    # A wait far longer than the test: only a full batch can be sent.
    outbox = make_outbox(capacity=10, batch_max=2, batch_wait=3600.0)
    for n in range(5):
        outbox.offer(_delivery(str(n), uid=str(n), service=None))
    await asyncio.wait_for(outbox.wait_until(lambda: len(outbox) == 1), timeout=5)

    assert api.requests_of_changes() == [["0", "1"], ["2", "3"]]
    # The fifth waits for company or for the wait to pass.
    await asyncio.sleep(0.05)
    assert len(api.requests_of_changes()) == 2


async def test_a_batch_that_is_not_full_is_sent_after_the_wait(
    make_outbox: OutboxFactory, api: FakeApi, clock: FakeClock
) -> None:
    outbox = make_outbox(capacity=10, batch_max=100, batch_wait=0.02, clock=clock)
    outbox.offer(_delivery("first", uid="u1", service=None))
    await asyncio.sleep(0.1)  # several waits in real time, none on the outbox's clock
    assert api.calls == []

    outbox.offer(_delivery("second", uid="u2", service=None))
    clock.advance(0.05)  # past the wait of the first
    await _drained(outbox)

    assert api.requests_of_changes() == [["first", "second"]]


async def test_one_objects_changes_go_in_separate_requests_in_order(
    make_outbox: OutboxFactory, api: FakeApi
) -> None:
    # One request's changes share their created_at: an object's second change waits for the
    # next request, so lists sorted by created_at never show it before the first.
    outbox = make_outbox(capacity=10)
    outbox.offer(_delivery("a1", uid="a", service=None))
    outbox.offer(_delivery("b1", uid="b", service=None))
    outbox.offer(_delivery("a2", uid="a", service=None))
    outbox.offer(_delivery("c1", uid="c", service=None))
    two = _delivery("d1", uid="d", service=None)
    two.changes.append(ChangeDraft(summary="d2", external_id="k8s:d:d2"))
    outbox.offer(two)
    await _drained(outbox)

    assert api.requests_of_changes() == [["a1", "b1"], ["a2", "c1", "d1"], ["d2"]]


async def test_a_failed_batch_is_retried_whole_before_anything_newer(
    make_outbox: OutboxFactory, api: FakeApi
) -> None:
    # Long enough a backoff for newer changes of the same objects to arrive meanwhile.
    outbox = make_outbox(capacity=10, retry_base=0.1, retry_max=0.1, rand=lambda: 1.0)
    api.script = [_fail(503)]
    outbox.offer(_delivery("a1", uid="a", service=None))
    outbox.offer(_delivery("b1", uid="b", service=None))
    await asyncio.wait_for(outbox.wait_until(lambda: outbox.failing), timeout=5)
    outbox.offer(_delivery("a2", uid="a", service=None))
    await _drained(outbox)

    assert api.requests_of_changes() == [["a1", "b1"], ["a1", "b1"], ["a2"]]
    assert outbox.recorded == 3
    assert list(api.stored) == ["k8s:a:a1", "k8s:b:b1", "k8s:a:a2"]


async def test_outages_and_server_errors_are_retried_until_delivered(
    outbox: Outbox, api: FakeApi
) -> None:
    failed = _sample("changetrail_operator_batches_failed_total", reason="connection")
    api.script = [_down, _fail(503), _fail(429)]
    outbox.offer(_delivery("one", service=None))
    await _drained(outbox)
    assert api.requests_of_changes() == [["one"]] * 4
    assert _sample("changetrail_operator_batches_failed_total", reason="connection") == failed + 1


async def test_a_batch_stored_but_unanswered_is_recorded_once(outbox: Outbox, api: FakeApi) -> None:
    def stored_then_cut(request: httpx.Request) -> httpx.Response:
        for change in json.loads(request.content)["changes"]:
            api.store(change)  # stored...
        raise httpx.ReadError("connection reset", request=request)  # ...but never answered

    api.script = [stored_then_cut]
    outbox.offer(_delivery("one", service=None))
    outbox.offer(_delivery("two", uid="u2", service=None))
    await _drained(outbox)

    assert list(api.stored) == ["k8s:u1:one", "k8s:u2:two"]
    assert outbox.recorded == 2


async def test_an_invalid_change_in_a_batch_is_dropped_and_the_rest_recorded(
    outbox: Outbox, api: FakeApi
) -> None:
    api.invalid = {"bad"}
    outbox.offer(_delivery("good", service=None))
    outbox.offer(_delivery("bad", uid="u2", service=None))
    outbox.offer(_delivery("fine", uid="u3", service=None))
    await _drained(outbox)

    assert api.requests_of_changes() == [["good", "bad", "fine"]]
    assert outbox.recorded == 2
    # Its state is still stored: the object is not diffed again into the same invalid change.
    [(_, _, stored)] = [call for call in api.calls if call[1] == "/api/v1/operator/objects"]
    assert [item["uid"] for item in stored["items"]] == ["u1", "u2", "u3"]


async def test_without_a_batch_endpoint_changes_are_posted_one_by_one_for_a_while(
    make_outbox: OutboxFactory, api: FakeApi, clock: FakeClock
) -> None:
    outbox = make_outbox(clock=clock)
    api.batch_supported = False
    outbox.offer(_delivery("one", service=None))
    outbox.offer(_delivery("two", uid="u2", service=None))
    await _drained(outbox)
    outbox.offer(_delivery("three", uid="u3", service=None))
    await _drained(outbox)

    assert [c[1] for c in api.calls if c[1] in {BATCH, SINGLE}] == [BATCH, SINGLE, SINGLE, SINGLE]
    assert api.requests_of_changes() == [["one", "two"], ["one"], ["two"], ["three"]]
    assert outbox.recorded == 3

    # After a while, batches are tried again (the API may have been upgraded).
    api.batch_supported = True
    clock.advance(SINGLE_POSTS_SECONDS)
    outbox.offer(_delivery("four", uid="u4", service=None))
    await _drained(outbox)
    assert api.calls[-2][1] == BATCH
    assert list(api.stored) == ["k8s:u1:one", "k8s:u2:two", "k8s:u3:three", "k8s:u4:four"]


async def test_a_batch_refused_as_a_whole_is_posted_one_by_one(
    outbox: Outbox, api: FakeApi
) -> None:
    api.script = [_fail(413)]
    api.invalid = {"bad"}
    outbox.offer(_delivery("bad", service=None))
    outbox.offer(_delivery("good", uid="u2", service=None))
    await _drained(outbox)
    outbox.offer(_delivery("next", uid="u3", service=None))
    await _drained(outbox)

    # Only the change at fault is lost, and the next round is a batch again.
    assert api.requests_of_changes() == [["bad", "good"], ["bad"], ["good"], ["next"]]
    assert [c[1] for c in api.calls if c[1] in {BATCH, SINGLE}][-1] == BATCH
    assert outbox.recorded == 2


async def test_a_rejected_single_post_is_dropped_without_blocking_the_next(
    outbox: Outbox, api: FakeApi
) -> None:
    api.batch_supported = False
    api.invalid = {"bad"}
    outbox.offer(_delivery("bad", service=None))
    outbox.offer(_delivery("good", uid="u2", service=None))
    await _drained(outbox)
    assert api.requests_of_changes()[1:] == [["bad"], ["good"]]
    assert outbox.recorded == 1


async def test_a_completion_follows_the_post_of_the_change_it_completes(
    make_outbox: OutboxFactory, api: FakeApi
) -> None:
    outbox = make_outbox(capacity=10)
    rollout = _delivery("rollout", service=None, outcome=Outcome.IN_PROGRESS)
    external_id = rollout.changes[0].external_id
    assert external_id is not None
    done = Completion(external_id, Outcome.SUCCEEDED, None)
    outbox.offer(rollout)
    outbox.offer(_delivery("other", uid="u2", service=None))
    await _drained(outbox)
    outbox.offer(Delivery(changes=[], completions=[done]))
    await _drained(outbox)

    requests = [(method, path) for method, path, _ in api.calls if path.startswith(SINGLE)]
    # The change's id came back in the batch's answer: no look-up before completing it.
    assert requests == [("POST", BATCH), ("PATCH", f"{SINGLE}/{api.stored[external_id]}")]


async def test_a_rollout_that_ended_before_its_change_was_posted_is_posted_ended(
    make_outbox: OutboxFactory, api: FakeApi
) -> None:
    outbox = make_outbox(capacity=10)
    rollout = _delivery("rollout", service=None, outcome=Outcome.IN_PROGRESS)
    started = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    rollout.changes[0] = replace(rollout.changes[0], occurred_at=started)
    external_id = rollout.changes[0].external_id or ""
    # The status's clock is a little behind: the end may not come before the start.
    done = Completion(external_id, Outcome.FAILED, started - timedelta(seconds=2), "Deadline")
    outbox.offer(rollout)
    outbox.offer(Delivery(changes=[], completions=[done]))
    await _drained(outbox)

    assert [method for method, path, _ in api.calls if path.startswith(SINGLE)] == ["POST"]
    [(_, _, batch)] = [call for call in api.calls if call[1] == BATCH]
    [change] = batch["changes"]
    assert change["outcome"] == "failed"
    assert change["ended_at"] == started.isoformat()
    assert change["outcome_reason"] == "Deadline"


async def test_services_are_resolved_once_per_name_for_a_whole_batch(
    make_outbox: OutboxFactory, api: FakeApi
) -> None:
    outbox = make_outbox(capacity=20)
    for n in range(12):
        outbox.offer(_delivery(str(n), uid=str(n), service=f"svc-{n % 3}"))
    await _drained(outbox)

    asked = [(method, body) for method, path, body in api.calls if path == "/api/v1/services"]
    # One listing of what exists (nothing), then each new name created without a look-up.
    assert [method for method, _ in asked] == ["GET", "POST", "POST", "POST"]
    assert sorted(body["name"] for method, body in asked if method == "POST") == [
        "svc-0",
        "svc-1",
        "svc-2",
    ]
    assert len(api.requests_of_changes()) == 1
    [(_, _, batch)] = [call for call in api.calls if call[1] == BATCH]
    assert {change["service_id"] for change in batch["changes"]} == {"svc_1"}


async def test_services_that_exist_are_listed_once_and_never_looked_up_by_name(
    make_outbox: OutboxFactory, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_client, "SERVICES_PAGE", 1)  # to follow the pages
    api.services = {"svc-0": "id-svc-0", "svc-1": "id-svc-1"}
    outbox = make_outbox(capacity=20)
    for n in range(6):
        outbox.offer(_delivery(str(n), uid=str(n), service=f"svc-{n % 3}"))
    await _drained(outbox)

    asked = [(method, body) for method, path, body in api.calls if path == "/api/v1/services"]
    assert asked == [("GET", {}), ("GET", {}), ("POST", asked[2][1])]
    assert asked[2][1]["name"] == "svc-2"
    [(_, _, batch)] = [call for call in api.calls if call[1] == BATCH]
    assert [change["service_id"] for change in batch["changes"]] == [
        "id-svc-0",
        "id-svc-1",
        "svc_1",
    ] * 2


async def test_beyond_the_listed_services_a_name_is_looked_up_before_it_is_created(
    make_outbox: OutboxFactory, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_client, "SERVICES_LISTED", 1)
    monkeypatch.setattr(api_client, "SERVICES_PAGE", 1)
    api.services = {"svc-0": "id-svc-0", "svc-1": "id-svc-1"}
    outbox = make_outbox(capacity=20)
    outbox.offer(_delivery("0", uid="0", service="svc-0"))
    outbox.offer(_delivery("1", uid="1", service="svc-1"))
    outbox.offer(_delivery("2", uid="2", service="svc-2"))
    await _drained(outbox)

    # The listing, then a look-up of each name beyond it, and the one missing created.
    asked = [(m, b) for m, p, b in api.calls if p == "/api/v1/services"]
    assert sorted(method for method, _ in asked) == ["GET", "GET", "GET", "POST"]
    assert [body["name"] for method, body in asked if method == "POST"] == ["svc-2"]
    [(_, _, batch)] = [call for call in api.calls if call[1] == BATCH]
    assert [c["service_id"] for c in batch["changes"]] == ["id-svc-0", "id-svc-1", "svc_1"]


async def test_a_rounds_rollouts_are_completed_each_in_order(
    make_outbox: OutboxFactory, api: FakeApi
) -> None:
    outbox = make_outbox(capacity=50)
    rollouts = [
        _delivery(f"rollout {n}", uid=str(n), service=None, outcome=Outcome.IN_PROGRESS)
        for n in range(20)
    ]
    for delivery in rollouts:
        outbox.offer(delivery)
    await _drained(outbox)
    ids = [delivery.changes[0].external_id or "" for delivery in rollouts]
    # Each rollout superseded, then (a later event of the same object) rolled back.
    outbox.offer(Delivery([], completions=[Completion(i, Outcome.SUPERSEDED, None) for i in ids]))
    outbox.offer(Delivery([], completions=[Completion(i, Outcome.ROLLED_BACK, None) for i in ids]))
    await _drained(outbox)

    patched = [(path, body["outcome"]) for method, path, body in api.calls if method == "PATCH"]
    assert len(patched) == 40
    for external_id in ids:
        path = f"{SINGLE}/{api.stored[external_id]}"
        assert [outcome for p, outcome in patched if p == path] == ["superseded", "rolled_back"]
    assert outbox.recorded == 20


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
    [(_, _, batch)] = [call for call in api.calls if call[1] == BATCH]
    [change] = batch["changes"]
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
