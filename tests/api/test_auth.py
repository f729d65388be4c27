"""Keys, scopes and organisations: who may do what, and nothing crosses organisations."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from changetrail_api.keys.models import ApiKey
from tests.api.conftest import Api, KeyFactory, bearer

PROTECTED = [
    ("GET", "/api/v1/changes", "changes:read"),
    ("POST", "/api/v1/changes", "changes:write"),
    ("GET", "/api/v1/services", "services:read"),
    ("POST", "/api/v1/services", "services:write"),
    ("GET", "/api/v1/api-keys", "admin"),
    ("GET", "/api/v1/webhooks", "admin"),
    ("GET", "/api/v1/operator/objects?cluster=c", "operator"),
]


async def call(
    client: httpx.AsyncClient, method: str, path: str, key: str | None
) -> httpx.Response:
    headers = {} if key is None else bearer(key)
    return await client.request(method, path, json=body_for(method, path), headers=headers)


def body_for(method: str, path: str) -> dict[str, str] | None:
    if method != "POST":
        return None
    return {"name": f"svc {path}"} if "services" in path else {"summary": "x"}


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        yield http


class TestAnonymous:
    @pytest.mark.parametrize(("method", "path", "scope"), PROTECTED)
    async def test_no_key_is_401(
        self, anonymous: httpx.AsyncClient, method: str, path: str, scope: str
    ) -> None:
        response = await anonymous.request(method, path)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")

    @pytest.mark.parametrize(
        "header", ["Bearer ak_live_unknown", "Basic dXNlcjpwYXNz", "Bearer", "ak_live_x"]
    )
    async def test_bad_or_malformed_key_is_401(
        self, anonymous: httpx.AsyncClient, header: str
    ) -> None:
        response = await anonymous.get("/api/v1/changes", headers={"Authorization": header})
        assert response.status_code == 401


class TestScopes:
    @pytest.mark.parametrize(("method", "path", "scope"), PROTECTED)
    async def test_missing_scope_is_403(
        self, client: httpx.AsyncClient, make_key: KeyFactory, method: str, path: str, scope: str
    ) -> None:
        others = [
            s
            for s in (
                "changes:read",
                "changes:write",
                "services:read",
                "services:write",
                "incidents:read",
            )
            if s != scope
        ]
        response = await call(client, method, path, await make_key(*others))
        assert response.status_code == 403
        assert scope in response.json()["detail"]

    @pytest.mark.parametrize(("method", "path", "scope"), PROTECTED)
    async def test_the_scope_is_enough(
        self, client: httpx.AsyncClient, make_key: KeyFactory, method: str, path: str, scope: str
    ) -> None:
        response = await call(client, method, path, await make_key(scope))
        assert response.status_code in (200, 201)

    async def test_admin_may_do_everything(self, client: httpx.AsyncClient) -> None:
        for method, path, _ in PROTECTED:
            response = await client.request(method, path, json=body_for(method, path))
            assert response.status_code in (200, 201)


class TestKeys:
    async def test_created_key_is_shown_once_and_works(self, client: httpx.AsyncClient) -> None:
        created = await client.post(
            "/api/v1/api-keys", json={"name": "ci", "scopes": ["changes:write"]}
        )
        assert created.status_code == 201
        key = created.json()["data"]["key"]
        assert key.startswith("ak_live_")
        listed = (await client.get("/api/v1/api-keys")).json()
        assert key not in str(listed)
        assert {k["name"] for k in listed["data"]} == {"bootstrap", "ci"}
        posted = await client.post("/api/v1/changes", json={"summary": "x"}, headers=bearer(key))
        assert posted.status_code == 201

    async def test_only_a_hash_is_stored(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        key = (
            await client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["admin"]})
        ).json()["data"]["key"]
        async with app.state.sessionmaker() as session:
            rows = (await session.execute(select(ApiKey))).scalars().all()
        stored = " ".join(f"{r.key_hash} {r.prefix} {r.name}" for r in rows)
        assert key not in stored
        assert len(rows) == 2

    async def test_revoked_key_stops_working_at_once(
        self, client: httpx.AsyncClient, make_key: KeyFactory
    ) -> None:
        key = await make_key("changes:read")
        assert (await client.get("/api/v1/changes", headers=bearer(key))).status_code == 200
        key_id = next(
            k["id"]
            for k in (await client.get("/api/v1/api-keys")).json()["data"]
            if k["name"] == "test"
        )
        assert (await client.delete(f"/api/v1/api-keys/{key_id}")).status_code == 204
        assert (await client.get("/api/v1/changes", headers=bearer(key))).status_code == 401

    async def test_unknown_scope_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/api-keys", json={"name": "x", "scopes": ["root"]})
        assert response.status_code == 422


class TestOrganisations:
    async def test_foreign_ids_are_404_and_lists_are_separate(
        self, client: httpx.AsyncClient, api: Api, make_key: KeyFactory
    ) -> None:
        service = await api.service("payments")
        change = await api.change(service_id=service["id"])
        other = bearer(await make_key("admin", org="other"))
        assert (
            await client.get(f"/api/v1/changes/{change['id']}", headers=other)
        ).status_code == 404
        assert (
            await client.get(f"/api/v1/services/{service['id']}", headers=other)
        ).status_code == 404
        assert (
            await client.get(f"/api/v1/services/{service['id']}/changes", headers=other)
        ).status_code == 404
        assert (
            await client.post(
                f"/api/v1/services/{service['id']}/changes", json={"summary": "x"}, headers=other
            )
        ).status_code == 404
        listed = (await client.get("/api/v1/changes", headers=other)).json()
        assert listed["data"] == []
        assert listed["meta"]["total"] == 0

    async def test_foreign_service_id_in_body_is_the_same_422_as_unknown(
        self, client: httpx.AsyncClient, api: Api, make_key: KeyFactory
    ) -> None:
        service = await api.service("payments")
        other = bearer(await make_key("admin", org="other"))
        response = await client.post(
            "/api/v1/changes", json={"summary": "x", "service_id": service["id"]}, headers=other
        )
        unknown = await client.post(
            "/api/v1/changes", json={"summary": "x", "service_id": "svc_nope"}, headers=other
        )
        assert response.status_code == unknown.status_code == 422

    async def test_same_external_id_in_two_orgs_is_two_changes(
        self, client: httpx.AsyncClient, make_key: KeyFactory
    ) -> None:
        other = bearer(await make_key("admin", org="other"))
        body = {"summary": "x", "external_id": "build-1"}
        first = await client.post("/api/v1/changes", json=body)
        second = await client.post("/api/v1/changes", json=body, headers=other)
        assert (first.status_code, second.status_code) == (201, 201)

    async def test_revoking_a_foreign_key_is_404(
        self, client: httpx.AsyncClient, make_key: KeyFactory
    ) -> None:
        other = bearer(await make_key("admin", org="other"))
        own_key_id = (await client.get("/api/v1/api-keys")).json()["data"][0]["id"]
        assert (
            await client.delete(f"/api/v1/api-keys/{own_key_id}", headers=other)
        ).status_code == 404
