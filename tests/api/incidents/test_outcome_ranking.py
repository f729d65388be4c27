"""A rollout's outcome, as its source completed it, reaches the incident's ranking."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import Api
from tests.api.test_incidents_factories import IncidentApi

# The incidents open at 2026-03-30T15:00Z (IncidentApi's default start).
STARTED = "2026-03-30T14:40:00Z"
ENDED = "2026-03-30T14:45:00Z"


@pytest.fixture
def incidents(client: httpx.AsyncClient) -> IncidentApi:
    return IncidentApi(client)


async def _completed_rollout(
    api: Api, client: httpx.AsyncClient, service_id: str, name: str, outcome: str
) -> dict[str, Any]:
    """A rollout recorded in progress and completed by its source, as the operator does it."""
    change = await api.change(
        f"Deploy shop/{name}: {name}:1.0 → 1.1",
        source="kubernetes",
        external_id=f"k8s:prod:Deployment:{name}:rollout:g2",
        change_type="deployment",
        risk_level="low",
        environment="production",
        service_id=service_id,
        occurred_at=STARTED,
        outcome="in_progress",
    )
    completed = await client.patch(
        f"/api/v1/changes/{change['id']}",
        json={"source": "kubernetes", "outcome": outcome, "ended_at": ENDED},
    )
    assert completed.status_code == 200, completed.text
    assert completed.json()["data"]["outcome"] == outcome
    return change


async def test_a_failed_rollout_ranks_above_the_same_rollout_that_succeeded(
    api: Api, client: httpx.AsyncClient, incidents: IncidentApi
) -> None:
    shop = await api.service("shop")
    # The succeeded one first, so an id tie-break could not put the failed one on top.
    succeeded = await _completed_rollout(api, client, shop["id"], "web", "succeeded")
    failed = await _completed_rollout(api, client, shop["id"], "cart", "failed")

    incident = await incidents.create(service_ids=[shop["id"]], environment="production")
    ranked = (await incidents.suspects(incident["id"]))["data"]

    assert [s["id"] for s in ranked] == [failed["id"], succeeded["id"]]
    first, second = ranked
    assert first["score"] > second["score"]
    # Everything but the outcome is equal: the risk factor is the failed-rollout weight (1.0)
    # instead of low risk's 0.7.
    assert first["score"] == pytest.approx(second["score"] / 0.7, abs=1e-3)
    assert first["reasons"][-1] == "failed rollout (risk_level low)"
    assert second["reasons"][-1] == "risk_level low"
    assert first["reasons"][:-1] == second["reasons"][:-1]


async def test_the_incident_embeds_the_failed_rollout_as_its_first_suspect(
    api: Api, client: httpx.AsyncClient, incidents: IncidentApi
) -> None:
    shop = await api.service("shop")
    await _completed_rollout(api, client, shop["id"], "web", "succeeded")
    failed = await _completed_rollout(api, client, shop["id"], "cart", "failed")

    incident = await incidents.create(service_ids=[shop["id"]], environment="production")

    assert incident["suspects"][0]["id"] == failed["id"]
    assert "failed rollout (risk_level low)" in incident["suspects"][0]["reasons"]
