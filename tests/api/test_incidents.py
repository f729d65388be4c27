"""Incidents through the management API: recording, listing, updating, scopes, isolation."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, KeyFactory, bearer
from tests.api.test_incidents_factories import IncidentApi


@pytest.fixture
def incidents(client: httpx.AsyncClient) -> IncidentApi:
    return IncidentApi(client)


class TestRecording:
    async def test_a_new_incident_is_201_with_every_field(
        self, api: Api, incidents: IncidentApi
    ) -> None:
        checkout = await api.service("checkout")
        data = await incidents.create(
            title="Checkout errors",
            started_at="2026-03-30T17:00:00+02:00",
            service_ids=[checkout["id"]],
            environment="production",
            severity="high",
            external_id="PD-1",
        )
        assert data["id"].startswith("inc_")
        assert data["status"] == "open"
        assert data["started_at"] == "2026-03-30T15:00:00.000Z"
        assert data["resolved_at"] is None
        assert data["service_ids"] == [checkout["id"]]
        assert data["services"] == [{"id": checkout["id"], "name": "checkout"}]
        assert (data["severity"], data["environment"], data["source"]) == (
            "high",
            "production",
            "api",
        )
        assert data["suspects"] == []

    async def test_defaults_are_medium_severity_and_any_environment(
        self, incidents: IncidentApi
    ) -> None:
        data = await incidents.create()
        assert data["severity"] == "medium"
        assert data["environment"] is None
        assert data["service_ids"] == []

    async def test_a_repeated_external_id_returns_the_first_with_200(
        self, client: httpx.AsyncClient, incidents: IncidentApi
    ) -> None:
        first = await incidents.create(external_id="PD-7")
        again = await client.post("/api/v1/incidents", json=incidents.body(external_id="PD-7"))
        assert again.status_code == 200
        assert again.json()["data"]["id"] == first["id"]

    async def test_parallel_posts_of_one_external_id_store_one(
        self, client: httpx.AsyncClient, incidents: IncidentApi
    ) -> None:
        body = incidents.body(external_id="PD-9")
        responses = await asyncio.gather(
            *(client.post("/api/v1/incidents", json=body) for _ in range(10))
        )
        assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
        listed = (await client.get("/api/v1/incidents")).json()
        assert listed["meta"]["total"] == 1

    async def test_an_already_resolved_incident_is_resolved(self, incidents: IncidentApi) -> None:
        data = await incidents.create(resolved_at="2026-03-30T16:00:00Z")
        assert data["status"] == "resolved"
        assert data["resolved_at"] == "2026-03-30T16:00:00.000Z"

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"title": ""}, "title"),
            ({"started_at": "yesterday"}, "started_at"),
            ({"severity": "CRITICAL"}, "severity"),
            ({"resolved_at": "2026-03-30T14:00:00Z"}, ""),
            ({"service_ids": ["svc_nope"]}, "service_ids"),
            ({"colour": "red"}, "colour"),
        ],
    )
    async def test_invalid_fields_are_422_naming_the_field(
        self, client: httpx.AsyncClient, incidents: IncidentApi, fields: dict[str, Any], field: str
    ) -> None:
        response = await client.post("/api/v1/incidents", json=incidents.body(**fields))
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        if field:
            assert field in [e["field"] for e in response.json()["errors"]]

    async def test_a_missing_started_at_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/incidents", json={"title": "Down"})
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["started_at"]


class TestListing:
    async def test_newest_start_first_in_the_changes_envelope(
        self, client: httpx.AsyncClient, incidents: IncidentApi
    ) -> None:
        older = await incidents.create(started_at="2026-03-29T10:00:00Z")
        newer = await incidents.create(started_at="2026-03-30T10:00:00Z")
        body = (await client.get("/api/v1/incidents", params={"limit": 1})).json()
        assert [i["id"] for i in body["data"]] == [newer["id"]]
        assert body["meta"] == {"total": 2, "limit": 1, "offset": 0, "has_more": True}
        second = (await client.get("/api/v1/incidents", params={"offset": 1})).json()
        assert [i["id"] for i in second["data"]] == [older["id"]]
        assert second["data"][0]["suspects"] is None

    async def test_filters_by_status_service_severity_environment_and_dates(
        self, client: httpx.AsyncClient, api: Api, incidents: IncidentApi
    ) -> None:
        checkout = await api.service("checkout")
        target = await incidents.create(
            service_ids=[checkout["id"]],
            severity="critical",
            environment="staging",
            started_at="2026-03-30T12:00:00Z",
        )
        await incidents.create(resolved_at="2026-03-30T18:00:00Z")
        await incidents.create(started_at="2026-03-01T12:00:00Z")
        for params in (
            {"service_id": checkout["id"]},
            {"severity": "critical"},
            {"environment": "staging"},
            {"status": "open", "start_date": "2026-03-30", "end_date": "2026-03-31"},
        ):
            body = (await client.get("/api/v1/incidents", params=params)).json()
            assert [i["id"] for i in body["data"]] == [target["id"]], params
        resolved = (await client.get("/api/v1/incidents", params={"status": "resolved"})).json()
        assert resolved["meta"]["total"] == 1

    @pytest.mark.parametrize(
        "params", [{"status": "closed"}, {"limit": 0}, {"start_date": "soon"}, {"offset": -1}]
    )
    async def test_invalid_filters_are_422(
        self, client: httpx.AsyncClient, params: dict[str, Any]
    ) -> None:
        assert (await client.get("/api/v1/incidents", params=params)).status_code == 422


class TestUpdating:
    async def test_resolving_and_reopening(
        self, client: httpx.AsyncClient, incidents: IncidentApi
    ) -> None:
        incident = await incidents.create()
        url = f"/api/v1/incidents/{incident['id']}"
        resolved = await client.patch(url, json={"resolved_at": "2026-03-30T15:45:00Z"})
        assert resolved.status_code == 200
        assert resolved.json()["data"]["status"] == "resolved"
        reopened = await client.patch(url, json={"resolved_at": None})
        assert reopened.json()["data"]["status"] == "open"
        assert (await client.get(url)).json()["data"]["resolved_at"] is None

    async def test_only_sent_fields_change(
        self, client: httpx.AsyncClient, api: Api, incidents: IncidentApi
    ) -> None:
        search = await api.service("search")
        incident = await incidents.create(environment="production", severity="low")
        response = await client.patch(
            f"/api/v1/incidents/{incident['id']}",
            json={"title": "Search is slow", "service_ids": [search["id"]]},
        )
        data = response.json()["data"]
        assert data["title"] == "Search is slow"
        assert data["service_ids"] == [search["id"]]
        assert (data["environment"], data["severity"]) == ("production", "low")
        assert data["updated_at"] >= incident["updated_at"]

    @pytest.mark.parametrize(
        "body",
        [
            {"resolved_at": "2026-03-30T14:00:00Z"},
            {"title": None},
            {"service_ids": ["svc_unknown"]},
            {"severity": "urgent"},
        ],
    )
    async def test_invalid_updates_are_422(
        self, client: httpx.AsyncClient, incidents: IncidentApi, body: dict[str, Any]
    ) -> None:
        incident = await incidents.create()
        response = await client.patch(f"/api/v1/incidents/{incident['id']}", json=body)
        assert response.status_code == 422

    async def test_an_unknown_incident_is_404(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/incidents/inc_nope")).status_code == 404
        patched = await client.patch("/api/v1/incidents/inc_nope", json={"title": "x"})
        assert patched.status_code == 404

    async def test_a_deleted_service_drops_out_of_its_incidents(
        self, client: httpx.AsyncClient, api: Api, incidents: IncidentApi
    ) -> None:
        checkout, search = await api.service("checkout"), await api.service("search")
        incident = await incidents.create(service_ids=[checkout["id"], search["id"]])
        assert (await client.delete(f"/api/v1/services/{checkout['id']}")).status_code == 204
        fetched = (await client.get(f"/api/v1/incidents/{incident['id']}")).json()["data"]
        assert fetched["service_ids"] == [search["id"]]


class TestAccess:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/incidents", headers={"Authorization": ""})
        assert response.status_code == 401

    async def test_reading_needs_incidents_read(
        self, client: httpx.AsyncClient, make_key: KeyFactory
    ) -> None:
        changes_only = bearer(await make_key("changes:read"))
        reader = bearer(await make_key("incidents:read"))
        assert (await client.get("/api/v1/incidents", headers=changes_only)).status_code == 403
        assert (await client.get("/api/v1/incidents", headers=reader)).status_code == 200

    async def test_writing_needs_incidents_write(
        self, client: httpx.AsyncClient, make_key: KeyFactory, incidents: IncidentApi
    ) -> None:
        reader = bearer(await make_key("incidents:read"))
        writer = bearer(await make_key("incidents:write"))
        body = incidents.body()
        assert (
            await client.post("/api/v1/incidents", json=body, headers=reader)
        ).status_code == 403
        created = await client.post("/api/v1/incidents", json=body, headers=writer)
        assert created.status_code == 201
        url = f"/api/v1/incidents/{created.json()['data']['id']}"
        assert (await client.patch(url, json={"title": "x"}, headers=reader)).status_code == 403

    async def test_another_organisations_incident_is_404(
        self, client: httpx.AsyncClient, make_key: KeyFactory, incidents: IncidentApi
    ) -> None:
        ours = await incidents.create()
        theirs = bearer(await make_key("incidents:read", "incidents:write", org="other"))
        url = f"/api/v1/incidents/{ours['id']}"
        assert (await client.get(url, headers=theirs)).status_code == 404
        assert (await client.patch(url, json={"title": "x"}, headers=theirs)).status_code == 404
        assert (await client.get(f"{url}/changes", headers=theirs)).status_code == 404
        listed = (await client.get("/api/v1/incidents", headers=theirs)).json()
        assert listed["data"] == []

    async def test_another_organisations_service_is_422(
        self, client: httpx.AsyncClient, api: Api, make_key: KeyFactory, incidents: IncidentApi
    ) -> None:
        ours = await api.service("checkout")
        theirs = bearer(await make_key("incidents:write", org="other"))
        response = await client.post(
            "/api/v1/incidents", json=incidents.body(service_ids=[ours["id"]]), headers=theirs
        )
        assert response.status_code == 422
