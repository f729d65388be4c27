"""Single posts that arrive together are stored together, and still answer one by one.

The first tests drive the grouping itself with a store that records what it was handed; the
rest post through the API, on SQLite and PostgreSQL, and check that what a group held is
stored exactly as single posts would have stored it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import pytest
from fastapi import FastAPI

from changetrail_api.changes.group_commit import GroupCommit
from changetrail_api.errors import ProblemError
from tests.api.conftest import Api, KeyFactory, bearer


class Recording:
    """A store that answers each item doubled, remembers every group and can be made to fail."""

    def __init__(self, fail_with: Exception | None = None, bad: int | None = None) -> None:
        self.groups: list[list[int]] = []
        self.fail_with = fail_with
        self.bad = bad

    async def __call__(self, items: Sequence[int]) -> list[int | Exception]:
        self.groups.append(list(items))
        await asyncio.sleep(0.01)  # a round trip, during which later writes gather
        if self.fail_with is not None and (self.bad is None or self.bad in items):
            raise self.fail_with
        return [item * 2 for item in items]


async def test_writes_made_at_once_share_a_group_and_each_gets_its_own_result() -> None:
    store = Recording()
    groups: GroupCommit[int, int] = GroupCommit(store, concurrency=1)
    results = await asyncio.gather(*(groups.submit(i) for i in range(10)))
    assert results == [i * 2 for i in range(10)]
    assert store.groups == [list(range(10))]


async def test_writes_arriving_during_a_group_form_the_next_one() -> None:
    store = Recording()
    groups: GroupCommit[int, int] = GroupCommit(store, concurrency=1)
    first = asyncio.ensure_future(groups.submit(0))
    await asyncio.sleep(0.001)  # the first group is being stored
    later = [asyncio.ensure_future(groups.submit(i)) for i in range(1, 6)]
    assert await asyncio.gather(first, *later) == [0, 2, 4, 6, 8, 10]
    assert store.groups == [[0], [1, 2, 3, 4, 5]]


async def test_a_group_never_holds_more_than_its_bound() -> None:
    store = Recording()
    groups: GroupCommit[int, int] = GroupCommit(store, max_items=4, concurrency=1)
    await asyncio.gather(*(groups.submit(i) for i in range(10)))
    assert [len(group) for group in store.groups] == [4, 4, 2]


async def test_an_item_the_database_refuses_fails_alone() -> None:
    store = Recording(
        fail_with=ProblemError(422, "A value in the request cannot be stored."), bad=3
    )
    groups: GroupCommit[int, int] = GroupCommit(store, concurrency=1)
    results = await asyncio.gather(*(groups.submit(i) for i in range(5)), return_exceptions=True)
    assert results[:3] == [0, 2, 4]
    assert results[4] == 8
    assert isinstance(results[3], ProblemError)
    assert results[3].status == 422
    # The group, then each item alone.
    assert store.groups == [[0, 1, 2, 3, 4], [0], [1], [2], [3], [4]]


async def test_a_busy_database_fails_the_whole_group_without_retrying_each_item() -> None:
    store = Recording(
        fail_with=ProblemError(503, "The database is busy; retry the request shortly.")
    )
    groups: GroupCommit[int, int] = GroupCommit(store, concurrency=1)
    results = await asyncio.gather(*(groups.submit(i) for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, ProblemError) and r.status == 503 for r in results)
    assert store.groups == [[0, 1, 2, 3, 4]]


async def test_a_write_whose_request_went_away_before_its_group_is_not_stored() -> None:
    store = Recording()
    groups: GroupCommit[int, int] = GroupCommit(store, concurrency=1)
    first = asyncio.ensure_future(groups.submit(0))
    await asyncio.sleep(0.001)
    gone = asyncio.ensure_future(groups.submit(1))
    kept = asyncio.ensure_future(groups.submit(2))
    await asyncio.sleep(0)
    gone.cancel()
    assert list(await asyncio.gather(first, kept)) == [0, 4]
    assert store.groups == [[0], [2]]


def test_a_group_needs_room_for_one_item() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(Recording(), max_items=0)


# --- through the API, on both databases ---------------------------------------------------


async def test_posts_stored_together_answer_and_count_as_single_posts(
    app: FastAPI, api: Api, client: httpx.AsyncClient
) -> None:
    service = await api.service("payments")
    replayed = {"summary": "replayed", "source": "github", "external_id": "delivery-1"}
    posts = [
        *({"summary": f"grouped {i}", "tags": ["grouped", f"n{i % 3}"]} for i in range(40)),
        *({"summary": "on a service", "service_id": service["id"], "tags": ["grouped"]},) * 5,
        {"summary": "unknown service", "service_id": "svc_missing", "tags": ["grouped"]},
        *(replayed,) * 4,
    ]
    before = await _stored_together(client)
    responses = await asyncio.gather(*(client.post("/api/v1/changes", json=p) for p in posts))
    statuses = [r.status_code for r in responses]

    assert statuses[:45] == [201] * 45
    assert statuses[45] == 422
    assert "service_id" in str(responses[45].json()["errors"])
    # One of the four copies of one external_id was stored; the others name it.
    assert sorted(statuses[46:]) == [200, 200, 200, 201]
    assert len({r.json()["data"]["id"] for r in responses[46:]}) == 1
    assert all(r.json()["data"]["service_name"] == "payments" for r in responses[40:45])

    # Counted exactly, by the counters (unfiltered, by tag, by service) and by a count.
    assert (await api.changes())["meta"]["total"] == 46
    assert (await api.changes(tag="grouped"))["meta"]["total"] == 45
    assert (await api.changes(tag="n1"))["meta"]["total"] == 13
    assert (await api.changes(service_id=service["id"]))["meta"]["total"] == 5
    assert (await api.changes(source="github"))["meta"]["total"] == 1
    assert (await api.changes(q="grouped"))["meta"]["total"] == 40

    groups, posts_stored = await _stored_together(client)
    assert posts_stored - before[1] == 50  # every post but the one refused before storing
    assert groups - before[0] < 50  # and some of them together


async def test_a_group_holds_posts_of_several_organisations_and_keeps_them_apart(
    app: FastAPI, make_key: KeyFactory, client: httpx.AsyncClient
) -> None:
    keys = {org: await make_key("changes:write", "changes:read", org=org) for org in ("a", "b")}
    service = (await client.post("/api/v1/services", json={"name": "shared"})).json()["data"]

    async def post(org: str, i: int) -> httpx.Response:
        body = {"summary": f"{org} {i}", "tags": [org], "external_id": f"same-{i}"}
        if org == "b" and i == 0:
            body["service_id"] = service["id"]  # the default organisation's service
        return await client.post("/api/v1/changes", json=body, headers=bearer(keys[org]))

    responses = await asyncio.gather(*(post(org, i) for i in range(10) for org in ("a", "b")))
    by_org = {org: [r for r, (o, _) in zip(responses, _pairs(), strict=True) if o == org]
              for org in ("a", "b")}  # fmt: skip
    assert [r.status_code for r in by_org["a"]] == [201] * 10
    # Another organisation's service is an unknown one; the same external_id is not a replay.
    assert [r.status_code for r in by_org["b"]] == [422] + [201] * 9
    for org, count in (("a", 10), ("b", 9)):
        listed = await client.get("/api/v1/changes", headers=bearer(keys[org]))
        assert listed.json()["meta"]["total"] == count
        assert {c["summary"].split()[0] for c in listed.json()["data"]} == {org}


def _pairs() -> list[tuple[str, int]]:
    return [(org, i) for i in range(10) for org in ("a", "b")]


async def _stored_together(http: httpx.AsyncClient) -> tuple[float, float]:
    """changetrail_changes_stored_together's count (groups) and sum (posts), from /metrics."""
    found: dict[str, float] = {}
    for line in (await http.get("/metrics")).text.splitlines():
        for part in ("count", "sum"):
            if line.startswith(f"changetrail_changes_stored_together_{part} "):
                found[part] = float(line.split()[1])
    return found["count"], found["sum"]
