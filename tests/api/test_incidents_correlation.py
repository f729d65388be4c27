"""``GET /api/v1/incidents/{id}/changes`` and the suspects embedded in an incident."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from changetrail_api.incidents import repository
from tests.api.conftest import Api
from tests.api.test_incidents_factories import IncidentApi


@pytest.fixture
def incidents(client: httpx.AsyncClient) -> IncidentApi:
    return IncidentApi(client)


def at(minutes: int) -> str:
    """A time relative to the incidents' start, 2026-03-30T15:00Z."""
    hours, minute = divmod(15 * 60 + minutes, 60)
    day = 30 + hours // 24
    return f"2026-03-{day:02d}T{hours % 24:02d}:{minute:02d}:00Z"


async def test_the_causing_change_ranks_first_with_its_reasons(
    api: Api, incidents: IncidentApi
) -> None:
    checkout = await api.service("checkout")
    search = await api.service("search")
    cause = await api.change(
        "Deploy checkout 2.4", service_id=checkout["id"], risk_level="high", occurred_at=at(-12)
    )
    await api.change("Deploy search 9.1", service_id=search["id"], occurred_at=at(-3))
    await api.change(
        "Deploy checkout to staging",
        service_id=checkout["id"],
        environment="staging",
        occurred_at=at(-5),
    )
    incident = await incidents.create(service_ids=[checkout["id"]], environment="production")
    body = await incidents.suspects(incident["id"])
    first = body["data"][0]
    assert first["id"] == cause["id"]
    assert first["summary"] == "Deploy checkout 2.4"
    assert first["reasons"] == [
        "same service",
        "12 min before start",
        "same environment (production)",
        "rollback-prone type: deployment",
        "risk_level high",
    ]
    scores = [s["score"] for s in body["data"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)


async def test_the_incident_embeds_its_top_three_suspects(
    client: httpx.AsyncClient, api: Api, incidents: IncidentApi
) -> None:
    checkout = await api.service("checkout")
    for minutes in (-5, -30, -60, -90, -120):
        await api.change(f"Deploy at {minutes}", service_id=checkout["id"], occurred_at=at(minutes))
    incident = await incidents.create(service_ids=[checkout["id"]])
    assert [s["summary"] for s in incident["suspects"]] == [
        "Deploy at -5",
        "Deploy at -30",
        "Deploy at -60",
    ]
    fetched = (await client.get(f"/api/v1/incidents/{incident['id']}")).json()["data"]
    assert [s["id"] for s in fetched["suspects"]] == [s["id"] for s in incident["suspects"]]


async def test_the_default_window_is_a_day_before_to_an_hour_after(
    api: Api, incidents: IncidentApi
) -> None:
    inside = [
        await api.change("Day before", occurred_at=at(-24 * 60)),
        await api.change("Within the hour after", occurred_at=at(59)),
    ]
    await api.change("Too early", occurred_at=at(-24 * 60 - 1))
    await api.change("Too late", occurred_at=at(60))
    incident = await incidents.create()
    body = await incidents.suspects(incident["id"])
    assert {s["id"] for s in body["data"]} == {c["id"] for c in inside}
    assert body["meta"]["window_start"] == "2026-03-29T15:00:00.000Z"
    assert body["meta"]["window_end"] == "2026-03-30T16:00:00.000Z"
    assert (body["meta"]["candidates"], body["meta"]["truncated"]) == (2, False)


async def test_the_window_is_configurable_by_query(api: Api, incidents: IncidentApi) -> None:
    await api.change("Two days before", occurred_at=at(-48 * 60))
    await api.change("Ten minutes before", occurred_at=at(-10))
    incident = await incidents.create()
    wide = await incidents.suspects(incident["id"], before_minutes=3 * 24 * 60)
    narrow = await incidents.suspects(incident["id"], before_minutes=30, after_minutes=0)
    assert wide["meta"]["total"] == 2
    assert [s["summary"] for s in narrow["data"]] == ["Ten minutes before"]


async def test_pages_and_min_score_narrow_the_ranking(api: Api, incidents: IncidentApi) -> None:
    for minutes in range(-50, 0, 10):
        await api.change(f"Deploy at {minutes}", occurred_at=at(minutes))
    incident = await incidents.create()
    page = await incidents.suspects(incident["id"], limit=2, offset=1)
    assert [s["summary"] for s in page["data"]] == ["Deploy at -20", "Deploy at -30"]
    assert page["meta"] | {"window_start": None, "window_end": None} == {
        "total": 5,
        "limit": 2,
        "offset": 1,
        "has_more": True,
        "candidates": 5,
        "truncated": False,
        "window_start": None,
        "window_end": None,
    }
    strict = await incidents.suspects(incident["id"], min_score=0.3)
    assert all(s["score"] >= 0.3 for s in strict["data"])
    assert 0 < strict["meta"]["total"] < 5


async def test_a_config_map_change_of_a_workload_of_the_service_is_linked(
    api: Api, incidents: IncidentApi
) -> None:
    payments = await api.service(
        "payments", kubernetes={"namespaces": ["payments"], "workloads": ["api"]}
    )
    details: dict[str, Any] = {
        "kubernetes": {
            "cluster": "prod",
            "kind": "ConfigMap",
            "namespace": "payments",
            "name": "api-config",
            "uid": "9f0c",
        },
        "diff": [{"key": "TIMEOUT", "change": "changed"}],
        "consumers": ["Deployment/api"],
    }
    config = await api.change(
        "Config payments/api-config: 1 key changed (TIMEOUT)",
        change_type="config_change",
        source="kubernetes",
        tags=["cluster:prod", "namespace:payments", "kind:configmap"],
        details=details,
        occurred_at=at(-25),
    )
    await api.change("Deploy frontend", risk_level="high", occurred_at=at(-10))
    incident = await incidents.create(service_ids=[payments["id"]])
    first = (await incidents.suspects(incident["id"]))["data"][0]
    assert first["id"] == config["id"]
    assert first["reasons"][0] == "config change to a workload of the service (api)"


async def test_a_busy_organisation_cannot_crowd_out_the_incidents_own_service(
    api: Api, incidents: IncidentApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "MAX_CANDIDATES", 3)
    ledger = await api.service("ledger")
    cause = await api.change("Migrate ledger", service_id=ledger["id"], occurred_at=at(-120))
    for minutes in range(-60, 0, 10):
        await api.change(f"Unrelated at {minutes}", occurred_at=at(minutes))
    incident = await incidents.create(service_ids=[ledger["id"]])
    body = await incidents.suspects(incident["id"])
    assert body["meta"]["truncated"] is True
    assert body["data"][0]["id"] == cause["id"]


async def test_a_busy_organisation_cannot_crowd_out_the_services_namespace(
    api: Api, incidents: IncidentApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "MAX_CANDIDATES", 3)
    search = await api.service("search", kubernetes={"namespaces": ["search"]})
    loader = await api.change(
        "Deploy search/batch-loader",
        source="kubernetes",
        tags=["namespace:search", "kind:deployment"],
        details={"kubernetes": {"kind": "Deployment", "namespace": "search", "name": "loader"}},
        risk_level="high",
        occurred_at=at(-70),
    )
    for minutes in range(-60, 0, 10):
        await api.change(f"Unrelated at {minutes}", occurred_at=at(minutes))
    incident = await incidents.create(service_ids=[search["id"]])
    body = await incidents.suspects(incident["id"])
    assert body["meta"]["truncated"] is True
    first = body["data"][0]
    assert first["id"] == loader["id"]
    assert first["reasons"][0] == "in the service's namespace (search)"


async def test_invalid_window_parameters_are_422(
    client: httpx.AsyncClient, incidents: IncidentApi
) -> None:
    incident = await incidents.create()
    for params in ({"before_minutes": -1}, {"after_minutes": "soon"}, {"min_score": 2}):
        response = await client.get(f"/api/v1/incidents/{incident['id']}/changes", params=params)
        assert response.status_code == 422, params
