"""Factories for the incident tests (no tests here): request bodies and Alertmanager payloads."""

from __future__ import annotations

from typing import Any

import httpx

STARTED_AT = "2026-03-30T15:00:00Z"


class IncidentApi:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @staticmethod
    def body(**fields: Any) -> dict[str, Any]:
        return {"title": "Checkout errors", "started_at": STARTED_AT, **fields}

    async def create(self, **fields: Any) -> dict[str, Any]:
        response = await self.client.post("/api/v1/incidents", json=self.body(**fields))
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def suspects(self, incident_id: str, **params: Any) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/incidents/{incident_id}/changes", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def alert(
    *,
    status: str = "firing",
    starts_at: str = STARTED_AT,
    ends_at: str = "0001-01-01T00:00:00Z",
    fingerprint: str = "a1b2c3d4e5f60718",
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "HighErrorRate", **labels},
        "annotations": {"summary": "5xx above 5%"},
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://prometheus.example/graph?g0.expr=rate",
        "fingerprint": fingerprint,
    }


def notification(
    *alerts: dict[str, Any],
    status: str = "firing",
    group_key: str = '{}:{alertname="HighErrorRate"}',
    common_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A version 4 Alertmanager webhook body, as Alertmanager sends it."""
    alerts = alerts or (alert(status=status),)
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "changetrail",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": common_labels
        if common_labels is not None
        else {"alertname": "HighErrorRate"},
        "commonAnnotations": {"summary": "5xx above 5%"},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": list(alerts),
    }
