"""The receiver over HTTP: detection, recording, redelivery, verification and hostile bodies."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api
from tests.api.detectors.factories import (
    GITHUB_TEST_SECRET,
    Delivery,
    cloudtrail_log,
    cloudtrail_record,
    delivery,
)


@pytest.fixture
async def endpoint(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/api/v1/webhooks", json={"name": "hooks"})
    data: dict[str, Any] = response.json()["data"]
    return data


async def send(
    client: httpx.AsyncClient, path: str, sent: Delivery, **headers: str
) -> httpx.Response:
    # The receiver needs no API key: the token in the path is the credential.
    return await client.post(
        path,
        content=sent.body,
        headers={**sent.headers, **headers, "authorization": ""},
    )


class TestRecording:
    async def test_github_push_is_recorded_once(
        self, client: httpx.AsyncClient, api: Api, endpoint: dict[str, Any]
    ) -> None:
        push = delivery("github/push")
        first = await send(client, endpoint["path"], push)
        assert first.status_code == 201, first.text
        data = first.json()["data"]
        assert data["source"] == "github"
        assert data["event"] == "push"
        assert len(data["changes"]) == 1
        change = data["changes"][0]
        assert change["id"].startswith("chg_")
        assert change["source"] == "github"
        again = await send(client, endpoint["path"], push)
        assert again.status_code == 200
        assert again.json()["data"]["changes"] == []
        assert again.json()["data"]["skipped"][0]["change_id"] == change["id"]
        assert (await api.changes(source="github"))["meta"]["total"] == 1

    async def test_a_log_file_yields_several_changes_and_skips_reads(
        self, client: httpx.AsyncClient, endpoint: dict[str, Any]
    ) -> None:
        log = cloudtrail_log(
            cloudtrail_record("lambda", "UpdateFunctionCode20150331v2", eventID="e-1"),
            cloudtrail_record("ec2", "DescribeInstances", eventID="e-2"),
            cloudtrail_record("ecs", "UpdateService", eventID="e-3"),
        )
        response = await send(client, endpoint["path"], log)
        assert response.status_code == 201
        data = response.json()["data"]
        assert data["source"] == "aws_cloudtrail"
        assert len(data["changes"]) == 2
        assert any("DescribeInstances" in s["reason"] for s in data["skipped"])

    async def test_ping_records_nothing_and_says_why(
        self, client: httpx.AsyncClient, api: Api, endpoint: dict[str, Any]
    ) -> None:
        response = await send(client, endpoint["path"], delivery("github/ping"))
        assert response.status_code == 200
        assert response.json()["data"]["changes"] == []
        assert response.json()["data"]["skipped"]
        assert (await api.changes())["meta"]["total"] == 0

    async def test_own_format_without_source_is_webhook(
        self, client: httpx.AsyncClient, endpoint: dict[str, Any]
    ) -> None:
        body = Delivery({"content-type": "application/json"}, b'{"summary": "Flip flag x"}')
        response = await send(client, endpoint["path"], body)
        assert response.status_code == 201
        assert response.json()["data"]["changes"][0]["source"] == "webhook"

    async def test_endpoint_defaults_and_service_hints_apply(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        fallback = await api.service("fallback")
        created = await client.post(
            "/api/v1/webhooks",
            json={"name": "x", "service_id": fallback["id"], "environment": "staging"},
        )
        path = created.json()["data"]["path"]
        body = Delivery({"content-type": "application/json"}, b'{"summary": "Deploy"}')
        change = (await send(client, path, body)).json()["data"]["changes"][0]
        assert change["service_id"] == fallback["id"]
        assert change["environment"] == "staging"
        hinted = await api.service("payments")
        named = Delivery(
            {"content-type": "application/json"},
            json.dumps({"summary": "Deploy", "service_name": "payments"}).encode(),
        )
        detection = (await send(client, path, named)).json()["data"]
        assert detection["changes"][0]["service_id"] == hinted["id"]


class TestRejections:
    async def test_unknown_token_is_404(self, client: httpx.AsyncClient) -> None:
        response = await send(
            client, "/api/webhooks/incoming/changes/whk_nope", delivery("github/push")
        )
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    async def test_bad_signature_is_401_and_stores_nothing(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        created = await client.post(
            "/api/v1/webhooks", json={"name": "gh", "secret": GITHUB_TEST_SECRET}
        )
        path = created.json()["data"]["path"]
        push = delivery("github/push")
        forged = push.with_headers(x_hub_signature_256="sha256=" + "0" * 64)
        assert (await send(client, path, forged)).status_code == 401
        assert (await api.changes())["meta"]["total"] == 0
        assert (await send(client, path, push)).status_code == 201

    async def test_not_json_is_415(
        self, client: httpx.AsyncClient, endpoint: dict[str, Any]
    ) -> None:
        body = Delivery({"content-type": "text/plain"}, b"hello there")
        response = await send(client, endpoint["path"], body)
        assert response.status_code == 415
        assert response.headers["content-type"] == "application/problem+json"

    async def test_too_large_is_413(
        self, client: httpx.AsyncClient, endpoint: dict[str, Any]
    ) -> None:
        body = Delivery({"content-type": "application/json"}, b'{"a": "' + b"x" * 1_100_000 + b'"}')
        assert (await send(client, endpoint["path"], body)).status_code == 413

    async def test_deep_nesting_is_rejected_quickly(
        self, client: httpx.AsyncClient, endpoint: dict[str, Any]
    ) -> None:
        body = Delivery({"content-type": "application/json"}, b"[" * 100_000 + b"]" * 100_000)
        response = await send(client, endpoint["path"], body)
        assert response.status_code in (400, 413, 415, 422)


class TestHandshakes:
    async def test_event_grid_validation_is_answered_with_its_code(
        self, client: httpx.AsyncClient, api: Api, endpoint: dict[str, Any]
    ) -> None:
        validation = delivery("azure/eventgrid-subscription-validation")
        code = validation.payload()[0]["data"]["validationCode"]
        response = await send(client, endpoint["path"], validation)
        assert response.status_code == 200
        assert response.json()["validationResponse"] == code
        assert response.json()["data"]["changes"] == []
        assert (await api.changes())["meta"]["total"] == 0
