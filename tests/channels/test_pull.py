"""Grafana, pull: changes as annotations for the Infinity data source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.conftest import bearer
from tests.channels.conftest import Serve
from tests.channels.support import AppClient, make_key, post_change

PATH = "/api/v1/annotations/grafana"


def ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


async def grafana_rows(client: AppClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(PATH, params=params)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_changes_in_the_dashboards_range_become_annotations(serve: Serve) -> None:
    now = datetime.now(UTC)
    async with serve(public_url="https://changetrail.example.com") as client:
        service = (await client.post("/api/v1/services", json={"name": "payments"})).json()["data"]
        rollout = await post_change(
            client,
            "Deploy payments 1.5.0",
            service_id=service["id"],
            occurred_at=(now - timedelta(minutes=10)).isoformat(),
            ended_at=(now - timedelta(minutes=4)).isoformat(),
            tags=["cluster:eu-1", "namespace:payments"],
        )
        await post_change(client, "Staging deploy", environment="staging")
        found = await grafana_rows(
            client,
            **{"from": ms(now - timedelta(hours=1)), "to": ms(now + timedelta(hours=1))},
            environment="production",
        )
    (row,) = found
    assert set(row) == {"id", "time", "timeEnd", "title", "text", "tags"}
    assert row["id"] == rollout["id"]
    assert row["title"] == "Deploy payments 1.5.0"
    assert row["timeEnd"] - row["time"] == 6 * 60 * 1000
    assert row["tags"] == [
        "changetrail",
        "service:payments",
        "environment:production",
        "cluster:eu-1",
        "namespace:payments",
        "type:deployment",
    ]
    assert f"https://changetrail.example.com/ui/changes/{rollout['id']}" in row["text"]


async def test_the_changes_list_filters_apply(serve: Serve) -> None:
    async with serve() as client:
        await client.post("/api/v1/services", json={"name": "payments"})
        await post_change(client, "Roll back", change_type="rollback", tags=["team-a"])
        await post_change(client, "Deploy", tags=["team-a"])
        assert [a["title"] for a in await grafana_rows(client, change_type="rollback")] == [
            "Roll back"
        ]
        assert len(await grafana_rows(client, tag="team-a")) == 2
        assert await grafana_rows(client, service="payments") == []
        assert await grafana_rows(client, service="no such service") == []
        assert len(await grafana_rows(client, limit=1)) == 1
        iso = await grafana_rows(client, **{"from": "2000-01-01T00:00:00Z"})
        assert len(iso) == 2


async def test_the_time_range_is_checked(serve: Serve) -> None:
    async with serve() as client:
        bad = [
            await client.get(PATH, params={"from": value})
            for value in ("yesterday", "99999999999999999999", "-99999999999999999")
        ]
        over = await client.get(PATH, params={"limit": 1001})
    assert [r.status_code for r in bad] == [422, 422, 422]
    assert bad[0].json()["errors"][0]["field"] == "from"
    assert over.status_code == 422


@pytest.mark.parametrize(
    ("scopes", "status"), [(("changes:read",), 200), (("channels:read",), 403)]
)
async def test_reading_annotations_needs_changes_read(
    serve: Serve, scopes: tuple[str, ...], status: int
) -> None:
    async with serve() as client:
        key = bearer(await make_key(client, *scopes))
        response = await client.get(PATH, headers=key)
    assert response.status_code == status
