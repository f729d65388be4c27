"""Probes, metrics and the OpenAPI document."""

from __future__ import annotations

import httpx

from tests.api.conftest import Api


class TestOperability:
    async def test_probes(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json() == {"status": "ok"}

    async def test_metrics_count_recorded_changes(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        await api.change(change_type="rollback", source="kubernetes")
        await api.change(change_type="rollback", source="argo")
        text = (await client.get("/metrics")).text
        recorded = "changetrail_changes_recorded_total"
        assert recorded + '{change_type="rollback",source="kubernetes"}' in text
        # A source a client made up is counted, but never becomes a label value of its own.
        assert recorded + '{change_type="rollback",source="other"}' in text
        assert "argo" not in text
        assert "changetrail_http_request_duration_seconds_bucket" in text

    async def test_openapi_documents_the_contract(self, client: httpx.AsyncClient) -> None:
        paths = (await client.get("/openapi.json")).json()["paths"]
        for path in (
            "/api/v1/changes",
            "/api/v1/services/{service_id}/changes",
            "/api/v1/changes/{change_id}",
            "/api/webhooks/incoming/changes/{token}",
        ):
            assert path in paths
        assert (await client.get("/docs")).status_code == 200
