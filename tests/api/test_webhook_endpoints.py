"""Managing webhook endpoints: tokens shown once, stored as hashes, revocable."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from changetrail_api.webhooks.models import WebhookEndpoint
from tests.api.conftest import Api


class TestWebhookEndpoints:
    async def test_token_is_shown_once_and_stored_as_a_hash(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        created = await client.post(
            "/api/v1/webhooks", json={"name": "github", "secret": "s3cr3t-0123456789abcdefghij"}
        )
        assert created.status_code == 201
        data = created.json()["data"]
        assert data["path"] == f"/api/webhooks/incoming/changes/{data['token']}"
        assert data["has_secret"] is True
        assert "secret" not in data
        listed = (await client.get("/api/v1/webhooks")).json()
        assert data["token"] not in str(listed)
        assert "s3cr3t" not in str(listed)
        async with app.state.sessionmaker() as session:
            row = (await session.execute(select(WebhookEndpoint))).scalar_one()
        assert row.token_hash != data["token"]
        assert data["token"] not in row.token_hash

    async def test_default_service_must_exist(self, client: httpx.AsyncClient, api: Api) -> None:
        bad = await client.post("/api/v1/webhooks", json={"name": "x", "service_id": "svc_nope"})
        assert bad.status_code == 422
        service = await api.service("web")
        good = await client.post(
            "/api/v1/webhooks", json={"name": "x", "service_id": service["id"]}
        )
        assert good.status_code == 201

    async def test_deleted_endpoint_token_is_unknown(self, client: httpx.AsyncClient) -> None:
        data = (await client.post("/api/v1/webhooks", json={"name": "x"})).json()["data"]
        assert (await client.delete(f"/api/v1/webhooks/{data['id']}")).status_code == 204
        assert (await client.delete(f"/api/v1/webhooks/{data['id']}")).status_code == 404
        response = await client.post(data["path"], json={"summary": "x"})
        assert response.status_code == 404
