""" "What changed before…" ranks a moment's changes like an incident's, and stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import Api, KeyFactory
from tests.web.pages import Browser, text


async def test_a_moment_ranks_its_services_changes_first_and_stores_no_incident(
    api: Api, browser: Browser, make_key: KeyFactory
) -> None:
    payments = await api.service("Payments API")
    await api.change(summary="Deploy payments 1.5", service_id=payments["id"])
    await api.change(summary="Deploy search 9.9")
    await browser.sign_in(await make_key("changes:read", "services:read"))
    at = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")

    response = await browser.get(
        "/ui/what-changed", params={"at": at, "service_id": payments["id"], "before": "1h"}
    )

    assert response.status_code == 200
    words = text(response.text)
    assert words.index("Deploy payments 1.5") < words.index("Deploy search 9.9")
    assert "same service" in words
    incidents = await api.client.get("/api/v1/incidents")
    assert incidents.json()["data"] == []


async def test_another_organisations_service_ranks_nothing_of_its_own(
    api: Api, browser: Browser, make_key: KeyFactory
) -> None:
    payments = await api.service("Payments API")
    await api.change(summary="Deploy payments 1.5", service_id=payments["id"])
    await browser.sign_in(await make_key("changes:read", org="elsewhere"))
    at = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")

    response = await browser.get(
        "/ui/what-changed", params={"at": at, "service_id": payments["id"]}
    )

    assert response.status_code == 200
    assert "Deploy payments 1.5" not in response.text
