"""Listing: order, every filter alone and combined, pagination meta at the edges."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update

from changetrail_api.changes import repository
from changetrail_api.changes.models import Change, ChangeCounter
from tests.api.conftest import Api


async def backdate(app: FastAPI, change_id: str, when: datetime) -> None:
    """created_at is set by the server; tests move it to build a timeline."""
    async with app.state.sessionmaker.begin() as session:
        await session.execute(update(Change).where(Change.id == change_id).values(created_at=when))


def ids(body: dict[str, Any]) -> list[str]:
    return [c["id"] for c in body["data"]]


BASE = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
async def timeline(app: FastAPI, api: Api) -> dict[str, str]:
    """Five changes an hour apart, varied in every filterable field."""
    svc = await api.service("payments")
    specs: list[dict[str, Any]] = [
        {
            "summary": "Deploy payments 1.0",
            "service_id": svc["id"],
            "source": "github_actions",
            "tags": ["billing", "release"],
            "changed_by": "jane",
        },
        {
            "summary": "Raise pool size",
            "change_type": "config_change",
            "source": "terraform",
            "environment": "staging",
            "risk_level": "high",
            "tags": ["billing"],
        },
        {
            "summary": "Roll back payments",
            "service_id": svc["id"],
            "change_type": "rollback",
            "source": "kubernetes",
            "description": "undo the 100% traffic shift",
            "changed_by": "jane",
            "external_id": "k8s-1",
        },
        {
            "summary": "Scale web",
            "change_type": "scaling",
            "source": "kubernetes",
            "environment": "staging",
            "tags": ["release"],
        },
        {
            "summary": "Patch openssl",
            "change_type": "security_patch",
            "risk_level": "critical",
            "tags": ["billing", "release", "security"],
        },
    ]
    names: dict[str, str] = {"service": svc["id"]}
    for hour, spec in enumerate(specs):
        change = await api.change(**spec)
        await backdate(app, change["id"], BASE + timedelta(hours=hour))
        names[f"h{hour}"] = change["id"]
    return names


class TestOrder:
    async def test_newest_first(self, api: Api, timeline: dict[str, str]) -> None:
        assert ids(await api.changes()) == [timeline[f"h{h}"] for h in (4, 3, 2, 1, 0)]

    async def test_same_instant_breaks_ties_by_id_descending(self, app: FastAPI, api: Api) -> None:
        made = [await api.change(f"c{i}") for i in range(4)]
        for change in made:
            await backdate(app, change["id"], BASE)
        assert ids(await api.changes()) == sorted((c["id"] for c in made), reverse=True)

    async def test_sort_by_occurred_at(self, api: Api) -> None:
        late = await api.change("late", occurred_at="2026-01-02T00:00:00Z")
        early = await api.change("early", occurred_at="2026-01-01T00:00:00Z")
        assert ids(await api.changes(sort="occurred_at")) == [late["id"], early["id"]]
        assert ids(await api.changes()) == [early["id"], late["id"]]


class TestFilters:
    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"change_type": "rollback"}, ["h2"]),
            ({"source": "kubernetes"}, ["h3", "h2"]),
            ({"environment": "staging"}, ["h3", "h1"]),
            ({"risk_level": "critical"}, ["h4"]),
            ({"changed_by": "jane"}, ["h2", "h0"]),
            ({"external_id": "k8s-1"}, ["h2"]),
            ({"q": "TRAFFIC"}, ["h2"]),
            ({"q": "payments"}, ["h2", "h0"]),
            ({"q": "100%"}, ["h2"]),
            ({"q": "_"}, []),
            ({"tag": "security"}, ["h4"]),
            ({"tag": ["billing", "release"]}, ["h4", "h0"]),
            ({"start_date": "2026-03-30T14:00:00Z"}, ["h4", "h3", "h2"]),
            ({"end_date": "2026-03-30T14:00:00Z"}, ["h1", "h0"]),
            (
                {"start_date": "2026-03-30T13:00:00Z", "end_date": "2026-03-30T15:00:00Z"},
                ["h2", "h1"],
            ),
            ({"start_date": "2026-03-30T15:00:00+02:00"}, ["h4", "h3", "h2", "h1"]),
            ({"start_date": "2026-03-30T14:00:00"}, ["h4", "h3", "h2"]),
            ({"end_date": "2026-03-30"}, []),
            ({"start_date": "2026-03-31"}, []),
            ({"change_type": "scaling", "environment": "staging", "source": "kubernetes"}, ["h3"]),
            ({"tag": "billing", "risk_level": "high", "environment": "staging"}, ["h1"]),
        ],
    )
    async def test_filter(
        self, api: Api, timeline: dict[str, str], params: dict[str, Any], expected: list[str]
    ) -> None:
        body = await api.changes(**params)
        assert ids(body) == [timeline[n] for n in expected]
        assert body["meta"]["total"] == len(expected)

    @pytest.mark.parametrize(
        ("params", "total"),
        [
            ({}, 5),
            ({"source": "kubernetes"}, 2),
            ({"environment": "staging"}, 2),
            ({"change_type": "scaling", "environment": "staging"}, 1),
            ({"environment": "production", "source": "kubernetes"}, 1),
            ({"environment": "production", "change_type": "deployment"}, 1),
            ({"tag": "billing"}, 3),
            ({"tag": ["billing", "release"]}, 2),
            ({"tag": "billing", "environment": "staging"}, 1),
        ],
    )
    async def test_totals_are_exact_when_the_page_is_smaller(
        self, api: Api, timeline: dict[str, str], params: dict[str, Any], total: int
    ) -> None:
        body = await api.changes(limit=1, **params)
        assert body["meta"]["total"] == total
        assert body["meta"]["has_more"] is (total > 1)

    async def test_service_totals_follow_the_service_filter_and_deletion(
        self, client: httpx.AsyncClient, api: Api, timeline: dict[str, str]
    ) -> None:
        service = timeline["service"]
        assert (await api.changes(limit=1, service_id=service))["meta"]["total"] == 2
        assert (await api.changes(limit=1, service_id=service, change_type="rollback"))["meta"][
            "total"
        ] == 1
        await client.delete(f"/api/v1/services/{service}")
        assert (await api.changes(limit=1, service_id=service))["meta"]["total"] == 0
        assert (await api.changes(limit=1, change_type="rollback"))["meta"]["total"] == 1
        assert (await api.changes(limit=1))["meta"]["total"] == 5

    async def test_service_filter_on_org_endpoint(self, api: Api, timeline: dict[str, str]) -> None:
        body = await api.changes(service_id=timeline["service"])
        assert ids(body) == [timeline["h2"], timeline["h0"]]
        assert body["meta"]["total"] == 2

    async def test_service_endpoint_lists_only_that_service(
        self, client: httpx.AsyncClient, timeline: dict[str, str]
    ) -> None:
        response = await client.get(
            f"/api/v1/services/{timeline['service']}/changes", params={"change_type": "rollback"}
        )
        assert ids(response.json()) == [timeline["h2"]]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"limit": 0}, "limit"),
            ({"limit": 101}, "limit"),
            ({"offset": -1}, "offset"),
            ({"limit": "ten"}, "limit"),
            ({"change_type": "Deployment"}, "change_type"),
            ({"risk_level": "severe"}, "risk_level"),
            ({"start_date": "not-a-date"}, "start_date"),
            ({"end_date": "2026-13-01"}, "end_date"),
            ({"sort": "summary"}, "sort"),
        ],
    )
    async def test_bad_query_is_422_naming_the_parameter(
        self, client: httpx.AsyncClient, params: dict[str, Any], field: str
    ) -> None:
        response = await client.get("/api/v1/changes", params=params)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert field in {e["field"] for e in response.json()["errors"]}


class TestPagination:
    @pytest.fixture
    async def seven(self, api: Api) -> list[str]:
        made = [await api.change(f"change {i}", tags=["t"] if i % 2 else []) for i in range(7)]
        return [c["id"] for c in reversed(made)]

    @pytest.mark.parametrize(
        ("limit", "offset", "count", "has_more"),
        [
            (3, 0, 3, True),
            (3, 3, 3, True),
            (3, 4, 3, False),
            (3, 6, 1, False),
            (7, 0, 7, False),
            (6, 0, 6, True),
            (3, 7, 0, False),
            (100, 50, 0, False),
        ],
    )
    async def test_meta_at_the_edges(
        self, api: Api, seven: list[str], limit: int, offset: int, count: int, has_more: bool
    ) -> None:
        body = await api.changes(limit=limit, offset=offset)
        assert ids(body) == seven[offset : offset + limit]
        assert len(body["data"]) == count
        assert body["meta"] == {"total": 7, "limit": limit, "offset": offset, "has_more": has_more}

    async def test_default_limit_is_25(self, api: Api) -> None:
        for i in range(27):
            await api.change(f"c{i}")
        body = await api.changes()
        assert len(body["data"]) == 25
        assert body["meta"] == {"total": 27, "limit": 25, "offset": 0, "has_more": True}

    async def test_filtered_totals_count_only_matches(self, api: Api, seven: list[str]) -> None:
        body = await api.changes(tag="t", limit=2)
        assert body["meta"]["total"] == 3
        assert body["meta"]["has_more"] is True


class TestDeepPages:
    async def test_seeking_by_day_returns_the_same_pages_as_a_plain_offset(
        self, app: FastAPI, api: Api, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        made: list[tuple[datetime, str]] = []
        for day in range(5):
            for minute in range(3):
                change = await api.change(f"day {day} #{minute}")
                when = BASE - timedelta(days=day) + timedelta(minutes=minute)
                await backdate(app, change["id"], when)
                made.append((when, change["id"]))
        await rebuild_day_counters(app)
        expected = [i for _, i in sorted(made, reverse=True)]
        seeks = 0
        original = repository._seek_by_day

        def counting_seek(*args: Any) -> tuple[datetime, int] | None:
            nonlocal seeks
            seeks += 1
            return original(*args)

        monkeypatch.setattr(repository, "DEEP_OFFSET", 0)
        monkeypatch.setattr(repository, "_seek_by_day", counting_seek)
        for offset in range(len(expected) + 1):
            body = await api.changes(limit=2, offset=offset)
            assert ids(body) == expected[offset : offset + 2], offset
            assert body["meta"]["total"] == len(expected)
        assert seeks == len(expected)  # every offset above 0 took the seek


async def rebuild_day_counters(app: FastAPI) -> None:
    """Backdating moves rows between days; put the day counters where the API would have."""
    async with app.state.sessionmaker.begin() as session:
        await session.execute(delete(ChangeCounter).where(ChangeCounter.dimension == "day"))
        rows = (await session.execute(select(Change.org_id, Change.created_at))).all()
        per_day = Counter((org, when.date().isoformat()) for org, when in rows)
        for (org, day), count in per_day.items():
            session.add(ChangeCounter(org_id=org, dimension="day", value=day, shard=0, count=count))
