"""The seed contract, field for field: a client written against it works unchanged."""

from __future__ import annotations

import re

import httpx

from tests.api.conftest import Api

SEED_BODY = {
    "summary": "Deploy v2.1.0 to production",
    "change_type": "deployment",
    "description": "Release includes new billing module and bug fixes",
    "commit_sha": "abc1234def5678",
    "branch": "main",
    "environment": "production",
    "risk_level": "medium",
    "changed_by": "jane.doe",
    "tags": ["billing", "release"],
}
SEED_RESPONSE_FIELDS = {
    "id",
    "service_id",
    "service_name",
    "change_type",
    "summary",
    "description",
    "source",
    "commit_sha",
    "branch",
    "environment",
    "risk_level",
    "changed_by",
    "tags",
    "created_at",
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class TestSeedExample:
    async def test_service_endpoint_returns_the_documented_response(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        service = await api.service("API Gateway")
        response = await client.post(f"/api/v1/services/{service['id']}/changes", json=SEED_BODY)
        assert response.status_code == 201
        data = response.json()["data"]
        assert data.keys() >= SEED_RESPONSE_FIELDS
        assert data["id"].startswith("chg_")
        assert service["id"].startswith("svc_")
        assert data["service_id"] == service["id"]
        assert data["service_name"] == "API Gateway"
        assert data["source"] == "api"
        for field, value in SEED_BODY.items():
            assert data[field] == value, field
        assert TIMESTAMP.match(data["created_at"])

    async def test_org_endpoint_with_service_id_in_body(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        service = await api.service("billing")
        response = await client.post(
            "/api/v1/changes", json={**SEED_BODY, "service_id": service["id"]}
        )
        assert response.status_code == 201
        assert response.json()["data"]["service_name"] == "billing"

    async def test_list_response_has_data_and_meta(self, api: Api) -> None:
        await api.change(**SEED_BODY)
        body = await api.changes(change_type="deployment", environment="production", limit=10)
        assert body["meta"] == {"total": 1, "limit": 10, "offset": 0, "has_more": False}
        assert body["data"][0].keys() >= SEED_RESPONSE_FIELDS


class TestDefaults:
    async def test_only_summary_gets_every_documented_default(self, api: Api) -> None:
        data = await api.change("Bump cache size")
        assert data["change_type"] == "deployment"
        assert data["source"] == "api"
        assert data["environment"] == "production"
        assert data["risk_level"] == "low"
        assert data["tags"] == []
        for field in (
            "service_id",
            "service_name",
            "description",
            "commit_sha",
            "commit_message",
            "branch",
            "pr_number",
            "pr_url",
            "pipeline_url",
            "changed_by",
            "external_id",
            "details",
            "ended_at",
        ):
            assert data[field] is None, field
        assert data["occurred_at"] == data["created_at"]

    async def test_every_optional_field_round_trips(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        body = {
            "summary": "Migrate orders table",
            "change_type": "database_migration",
            "description": "adds an index",
            "source": "jenkins",
            "commit_sha": "0123456789abcdef",
            "commit_message": "Add index on orders.created_at\n\nLong body",
            "branch": "release/2.1",
            "pr_number": "42",
            "pr_url": "https://git.example.com/acme/shop/pull/42",
            "pipeline_url": "https://ci.example.com/job/shop/77",
            "environment": "staging",
            "risk_level": "critical",
            "changed_by": "ops@example.com",
            "external_id": "jenkins-77",
            "tags": ["db", "orders"],
            "occurred_at": "2026-03-30T15:00:00+02:00",
            "ended_at": "2026-03-30T13:05:00Z",
            "details": {"tables": ["orders"], "rows": 1200},
        }
        data = await api.change(**body)
        fetched = (await client.get(f"/api/v1/changes/{data['id']}")).json()["data"]
        assert fetched == data
        for field in body.keys() - {"occurred_at", "ended_at"}:
            assert data[field] == body[field], field
        assert data["occurred_at"] == "2026-03-30T13:00:00.000Z"
        assert data["ended_at"] == "2026-03-30T13:05:00.000Z"

    async def test_pr_number_as_integer_is_stored_as_string(self, api: Api) -> None:
        assert (await api.change(pr_number=1234))["pr_number"] == "1234"

    async def test_every_change_type_and_risk_level_is_accepted(self, api: Api) -> None:
        for change_type in (
            "deployment",
            "config_change",
            "infrastructure",
            "code",
            "database_migration",
            "feature_flag",
            "rollback",
            "scaling",
            "security_patch",
            "other",
        ):
            assert (await api.change(change_type=change_type))["change_type"] == change_type
        for risk in ("low", "medium", "high", "critical"):
            assert (await api.change(risk_level=risk))["risk_level"] == risk


class TestValidation:
    async def _rejects(self, client: httpx.AsyncClient, body: object, field: str) -> None:
        response = await client.post("/api/v1/changes", json=body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 422
        assert field in {e["field"] for e in problem["errors"]}

    async def test_missing_summary(self, client: httpx.AsyncClient) -> None:
        await self._rejects(client, {"change_type": "deployment"}, "summary")

    async def test_blank_summary(self, client: httpx.AsyncClient) -> None:
        await self._rejects(client, {"summary": "   "}, "summary")

    async def test_unknown_change_type(self, client: httpx.AsyncClient) -> None:
        await self._rejects(client, {"summary": "x", "change_type": "release"}, "change_type")

    async def test_enums_are_case_sensitive(self, client: httpx.AsyncClient) -> None:
        await self._rejects(client, {"summary": "x", "change_type": "DEPLOYMENT"}, "change_type")
        await self._rejects(client, {"summary": "x", "risk_level": "High"}, "risk_level")

    async def test_tags_must_be_strings(self, client: httpx.AsyncClient) -> None:
        await self._rejects(client, {"summary": "x", "tags": "billing"}, "tags")
        await self._rejects(client, {"summary": "x", "tags": [1]}, "tags.0")

    async def test_unparseable_occurred_at(self, client: httpx.AsyncClient) -> None:
        await self._rejects(client, {"summary": "x", "occurred_at": "yesterday"}, "occurred_at")

    async def test_body_must_be_an_object(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/changes", json=["summary"])
        assert response.status_code == 422

    async def test_unknown_service_in_body_is_422(self, client: httpx.AsyncClient) -> None:
        await self._rejects(client, {"summary": "x", "service_id": "svc_nope"}, "service_id")

    async def test_rejected_input_stores_nothing(self, client: httpx.AsyncClient, api: Api) -> None:
        await client.post("/api/v1/changes", json={"summary": "x", "risk_level": "extreme"})
        await client.post("/api/v1/changes", json={"summary": "x", "service_id": "svc_nope"})
        assert (await api.changes())["meta"]["total"] == 0


class TestServiceEndpoint:
    async def test_unknown_service_in_path_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/services/svc_missing/changes", json={"summary": "x"})
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    async def test_different_service_in_body_is_422(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        first, second = await api.service("one"), await api.service("two")
        response = await client.post(
            f"/api/v1/services/{first['id']}/changes",
            json={"summary": "x", "service_id": second["id"]},
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "service_id"

    async def test_same_service_in_body_is_fine(self, client: httpx.AsyncClient, api: Api) -> None:
        service = await api.service("one")
        response = await client.post(
            f"/api/v1/services/{service['id']}/changes",
            json={"summary": "x", "service_id": service["id"]},
        )
        assert response.status_code == 201

    async def test_list_for_unknown_service_is_404(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/services/svc_missing/changes")).status_code == 404


class TestGetOne:
    async def test_unknown_change_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/changes/chg_missing")
        assert response.status_code == 404
        assert response.json()["title"] == "Not Found"
