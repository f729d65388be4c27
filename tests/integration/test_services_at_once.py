"""Services created at once against the real API by two operators racing for the same names:
each service exists once, the loser of each race looks it up, and both know its id."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from changetrail_operator.api_client import ChangetrailClient
from tests.integration.harness import running_api

NAMES = [f"app-{n}" for n in range(40)]


async def _services(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.get("/api/v1/services", params={"limit": 100})
    assert response.status_code == 200, response.text
    return {item["name"]: item["id"] for item in response.json()["data"]}


async def test_two_operators_creating_the_same_services_at_once_create_each_once(
    tmp_path: Path,
) -> None:
    async with running_api(tmp_path) as api:
        one, other = ChangetrailClient(api.http), ChangetrailClient(api.http)
        # Both listed the services before any existed, so both create rather than look up.
        ids_one, ids_other = await asyncio.gather(
            asyncio.gather(*(one.service_id(name) for name in NAMES)),
            asyncio.gather(*(other.service_id(name) for name in reversed(NAMES))),
        )
        existing = await _services(api.http)

    assert sorted(existing) == sorted(NAMES)
    assert ids_one == [existing[name] for name in NAMES]
    assert ids_other == [existing[name] for name in reversed(NAMES)]
    creations = api.transport.count("POST", "/api/v1/services")
    # Each client asked once per name at most; the loser of each race looked the name up.
    assert len(NAMES) <= creations <= 2 * len(NAMES)
    look_ups = api.transport.count("GET", "/api/v1/services")
    assert look_ups >= creations - len(NAMES)
