"""The notifications a real Alertmanager sent, replayed against the receiver over HTTP.

In the order they were sent, with the redeliveries the issue reported (a resolved
notification, a mid-episode firing), and in orders drawn by Hypothesis: one incident per
episode every time, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings

from changetrail_api.timefmt import format_utc as ms
from tests.api.conftest import KeyFactory, bearer
from tests.api.incidents.corpus import EPISODES, IN_ORDER_ACTIONS, deliveries, notifications
from tests.api.test_incidents_alertmanager import Receiver

_orgs = itertools.count()


async def setup_org(client: httpx.AsyncClient, make_key: KeyFactory, org: str) -> Receiver:
    """An organisation with the services the corpus names (not inventory) and a receiver."""
    headers = bearer(await make_key("admin", org=org))
    for name in ("checkout", "payments"):
        response = await client.post("/api/v1/services", json={"name": name}, headers=headers)
        assert response.status_code == 201, response.text
    response = await client.post(
        "/api/v1/webhooks",
        json={"name": "alertmanager", "kind": "alertmanager"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    client.headers.update(headers)
    return Receiver(client, response.json()["data"]["path"])


async def incidents_of(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/incidents", params={"limit": 100})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def assert_one_incident_per_episode(incidents: list[dict[str, Any]]) -> None:
    found = sorted((i["started_at"], i["resolved_at"], i["status"]) for i in incidents)
    expected = sorted((ms(e.started_at), ms(e.resolved_at), "resolved") for e in EPISODES)
    assert found == expected
    for incident in incidents:
        episode = next(e for e in EPISODES if ms(e.started_at) == incident["started_at"])
        assert set(incident["details"]["alertmanager"]["fingerprints"]) == episode.fingerprints


class TestInOrder:
    async def test_every_notification_does_what_it_should(
        self, client: httpx.AsyncClient, make_key: KeyFactory
    ) -> None:
        receiver = await setup_org(client, make_key, "corpus")
        actions = []
        for body in notifications():
            response = await client.post(receiver.path, json=body)
            action = response.json()["data"]["action"]
            assert response.status_code == (201 if action == "opened" else 200), response.text
            actions.append(action)
        assert actions == IN_ORDER_ACTIONS
        incidents = await incidents_of(client)
        assert_one_incident_per_episode(incidents)
        by_title = {(i["title"], i["started_at"]): i for i in incidents}
        first = by_title[("HighErrorRate: 5xx rate above 5%", "2026-12-01T23:54:01.882Z")]
        assert [s["name"] for s in first["services"]] == ["checkout"]
        assert first["severity"] == "critical"
        # The second alert's notifications had no common summary: merged, it stays.
        assert first["details"]["alertmanager"]["common_annotations"] == {
            "summary": "5xx rate above 5%"
        }
        disk = next(i for i in incidents if i["title"].startswith("DiskFull"))
        assert disk["services"] == []
        assert disk["details"]["alertmanager"]["unmatched_labels"] == [
            {"label": "service", "value": "inventory"}
        ]

    async def test_what_the_issue_replayed_neither_duplicates_nor_reopens(
        self, client: httpx.AsyncClient, make_key: KeyFactory
    ) -> None:
        receiver = await setup_org(client, make_key, "replays")
        bodies = notifications()
        for body in bodies:
            await receiver.send(body)
        before = await incidents_of(client)
        # LatencyHigh's resolved notification (its earliest alert had left the group), its
        # mid-episode firings, and the one Alertmanager sent after a restart without storage.
        for index in (11, 10, 9, 4, 2):
            body = await receiver.send(bodies[index], expect=200)
            assert body["data"]["action"] == "unchanged", index
            assert body["data"]["incident"]["status"] == "resolved"
        assert await incidents_of(client) == before

    async def test_a_replay_after_the_resolve_leaves_the_next_episode_its_own_incident(
        self, client: httpx.AsyncClient, make_key: KeyFactory
    ) -> None:
        receiver = await setup_org(client, make_key, "next-episode")
        bodies = notifications()
        for index in (0, 1, 2, 3, 4, 5, 4, 3):
            await receiver.send(bodies[index])
        body = await receiver.send(bodies[25], expect=201)
        assert body["data"]["action"] == "opened"
        assert body["data"]["incident"]["started_at"] == "2026-12-01T23:59:42.813Z"
        for index in (4, 2, 29):
            await receiver.send(bodies[index], expect=200)
        statuses = [(i["started_at"], i["status"]) for i in await incidents_of(client)]
        assert statuses == [
            ("2026-12-01T23:59:42.813Z", "open"),
            ("2026-12-01T23:54:01.882Z", "resolved"),
        ]


@settings(
    max_examples=6,
    deadline=None,
    # One app and database for all examples; each example gets an organisation of its own.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(order=deliveries())
async def test_one_incident_per_episode_over_http_whatever_the_order(
    client: httpx.AsyncClient, make_key: KeyFactory, order: list[int]
) -> None:
    receiver = await setup_org(client, make_key, f"order-{next(_orgs)}")
    bodies = notifications()
    for index in order:
        response = await client.post(receiver.path, json=bodies[index])
        assert response.status_code in (200, 201), response.text
    assert_one_incident_per_episode(await incidents_of(client))
