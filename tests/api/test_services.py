"""Services: unique names per organisation, CRUD, and what deleting one does to its changes."""

from __future__ import annotations

import httpx

from tests.api.conftest import Api


class TestServices:
    async def test_create_get_and_list_by_name(self, client: httpx.AsyncClient, api: Api) -> None:
        created = await api.service(
            "API Gateway", description="edge", kubernetes={"namespaces": ["edge"]}
        )
        assert created["slug"] == "api-gateway"
        assert created["kubernetes"] == {"namespaces": ["edge"], "workloads": [], "labels": {}}
        fetched = (await client.get(f"/api/v1/services/{created['id']}")).json()["data"]
        assert fetched == created
        listed = (await client.get("/api/v1/services", params={"name": "API Gateway"})).json()
        assert [s["id"] for s in listed["data"]] == [created["id"]]
        assert listed["meta"]["total"] == 1

    async def test_duplicate_name_or_slug_is_409(self, client: httpx.AsyncClient, api: Api) -> None:
        await api.service("payments")
        again = await client.post("/api/v1/services", json={"name": "payments"})
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        same_slug = await client.post("/api/v1/services", json={"name": "Payments!"})
        assert same_slug.status_code == 409

    async def test_patch_renames_and_checks_uniqueness(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        one = await api.service("one")
        await api.service("two")
        renamed = await client.patch(f"/api/v1/services/{one['id']}", json={"name": "uno"})
        assert renamed.status_code == 200
        assert renamed.json()["data"]["slug"] == "uno"
        clash = await client.patch(f"/api/v1/services/{one['id']}", json={"name": "two"})
        assert clash.status_code == 409

    async def test_delete_keeps_changes_without_the_service(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        service = await api.service("legacy")
        change = await api.change(service_id=service["id"])
        assert (await client.delete(f"/api/v1/services/{service['id']}")).status_code == 204
        assert (await client.get(f"/api/v1/services/{service['id']}")).status_code == 404
        kept = (await client.get(f"/api/v1/changes/{change['id']}")).json()["data"]
        assert kept["service_id"] is None
        assert kept["service_name"] is None
        assert (await api.changes(service_id=service["id"]))["meta"]["total"] == 0
        assert (await api.changes())["meta"]["total"] == 1

    async def test_invalid_service_bodies_are_422(self, client: httpx.AsyncClient) -> None:
        for body in ({}, {"name": ""}, {"name": "x", "slug": "Not A Slug"}, {"name": "x", "y": 1}):
            assert (await client.post("/api/v1/services", json=body)).status_code == 422
