"""A small organisation to aim hostile requests at, and the checks that it survived them.

Both halves work over a synchronous client (Starlette's SyncClient), so Hypothesis drives
requests directly; the app runs on its own event loop, as under a real server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, create_engine, inspect, select, table, text

from changetrail_api import json_safety
from changetrail_api.db import sync_url
from changetrail_api.models import Base
from tests.api.hostile.sync_client import SyncClient

FIXTURES = Path(__file__).parent.parent / "detectors" / "fixtures"
SECRETLESS = {"content-type": "application/json"}


def alertmanager_payload(starts_at: str = "2026-11-30T10:00:00Z") -> dict[str, Any]:
    """Alertmanager's webhook body (version 4), one firing alert."""
    labels = {"alertname": "HighErrorRate", "service": "payments", "severity": "critical"}
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "status": "firing",
        "receiver": "changetrail",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "5xx above 5%"},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "5xx above 5%"},
                "startsAt": starts_at,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example/graph",
                "fingerprint": "a1b2c3d4e5f60718",
            }
        ],
    }


def _fixture(name: str) -> tuple[dict[str, str], Any]:
    body = json.loads((FIXTURES / f"{name}.json").read_text())
    headers_file = FIXTURES / f"{name}.headers.json"
    headers = json.loads(headers_file.read_text()) if headers_file.exists() else {}
    # Unsigned: the endpoints under test have no secret, and the body is about to change.
    headers = {k: v for k, v in headers.items() if not k.lower().startswith("x-hub-signature")}
    return headers, body


def receiver_payloads() -> list[tuple[dict[str, str], Any]]:
    """(headers, body) a changes webhook may get: one per detector, and a native batch."""
    native = {"summary": "Deploy api 1.2", "change_type": "deployment", "details": {"v": 1}}
    return [
        ({}, native),
        ({}, [native, {**native, "summary": "Deploy web 3.4"}]),
        _fixture("github/push"),
        _fixture("gitlab/pipeline-deploy-success"),
        _fixture("aws/cloudtrail-log-file"),
        _fixture("aws/eventbridge-ecs-deployment-completed"),
        _fixture("azure/eventgrid-resource-events"),
        _fixture("gcp/logentry-run-replaceservice"),
        ({}, {"title": "Something happened", "env": "staging"}),
    ]


def wrapped(headers: dict[str, str], inner: bytes) -> list[tuple[dict[str, str], bytes]]:
    """``inner`` as the message of an SNS notification and as Pub/Sub push data: hidden in a
    string or in base64, where only the detector's own parse can look at it."""
    sns = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:changes",
        "Message": inner.decode("ascii"),
    }
    pubsub = {
        "message": {"data": base64.b64encode(inner).decode(), "messageId": "1"},
        "subscription": "projects/p/subscriptions/s",
    }
    return [
        ({**headers, "x-amz-sns-message-type": "Notification"}, json.dumps(sns).encode()),
        (headers, json.dumps(pubsub).encode()),
    ]


def create_world(client: SyncClient) -> dict[str, str]:
    """One of everything, and the values that name them in paths."""

    def post(path: str, body: Any) -> dict[str, Any]:
        response = client.post(path, json=body)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    service = post("/api/v1/services", {"name": "payments"})
    change = post(
        "/api/v1/changes",
        {"summary": "Deploy payments 1.0", "service_id": service["id"], "details": {"a": 1}},
    )
    incident = post(
        "/api/v1/incidents",
        {"title": "Errors", "started_at": "2026-11-30T10:00:00Z", "service_ids": [service["id"]]},
    )
    changes_hook = post("/api/v1/webhooks", {"name": "ci"})
    alerts_hook = post("/api/v1/webhooks", {"name": "am", "kind": "alertmanager"})
    key = post("/api/v1/api-keys", {"name": "reader", "scopes": ["changes:read"]})
    stored = client.put(
        "/api/v1/operator/objects",
        json={
            "items": [
                {
                    "cluster": "c1",
                    "kind": "Deployment",
                    "uid": "u1",
                    "namespace": "shop",
                    "name": "web",
                    "fingerprint": "f1",
                    "state": {"replicas": 3},
                }
            ]
        },
    )
    assert stored.status_code == 200, stored.text
    return {
        "service_id": service["id"],
        "change_id": change["id"],
        "incident_id": incident["id"],
        "changes_token": changes_hook["token"],
        "alertmanager_token": alerts_hook["token"],
        "key_id": key["id"],
        "cluster": "c1",
        "kind": "Deployment",
        "uid": "u1",
    }


def _json_columns(database_url: str) -> Iterator[tuple[str, str, str | None]]:
    """(table, column, raw JSON text) of every JSON value stored, as the database keeps it."""
    engine = create_engine(sync_url(database_url))
    postgres = engine.dialect.name == "postgresql"
    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
            for model in Base.metadata.sorted_tables:
                if model.name not in present:
                    continue
                for column in model.columns:
                    if not isinstance(column.type, JSON):
                        continue
                    raw = f"CAST({column.name} AS TEXT)" if postgres else column.name
                    rows = connection.execute(select(text(raw)).select_from(table(model.name)))
                    for (value,) in rows:
                        yield model.name, column.name, value
    finally:
        engine.dispose()


def assert_stored_json_is_valid(database_url: str) -> int:
    """Every stored JSON value parses strictly within the limits; returns how many there are."""
    count = 0
    for table_name, column, raw in _json_columns(database_url):
        if raw is None:
            continue
        try:
            json_safety.loads(raw)
        except ValueError as error:
            raise AssertionError(f"{table_name}.{column} holds unservable JSON: {error}") from None
        count += 1
    return count


def assert_everything_reads(client: SyncClient, database_url: str) -> int:
    """Every list page and every incident (with its correlation) answers 200; returns reads."""
    reads = 0

    def get(path: str, **params: Any) -> dict[str, Any]:
        nonlocal reads
        response = client.get(path, params=params)
        reads += 1
        assert response.status_code == 200, (path, params, response.text[:500])
        body: dict[str, Any] = response.json()
        return body

    def pages(path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            body = get(path, limit=100, offset=offset, **params)
            items += body["data"]
            if not body["meta"]["has_more"] or offset >= 2000:
                return items
            offset += 100

    changes = pages("/api/v1/changes")
    pages("/api/v1/changes", sort="occurred_at")
    for change in changes[:300]:
        get(f"/api/v1/changes/{change['id']}")
    for incident in pages("/api/v1/incidents"):
        get(f"/api/v1/incidents/{incident['id']}")
        get(f"/api/v1/incidents/{incident['id']}/changes", before_minutes=43200)
    for service in pages("/api/v1/services"):
        get(f"/api/v1/services/{service['id']}/changes")
    pages("/api/v1/webhooks")
    pages("/api/v1/api-keys")
    for cluster in _clusters(database_url):
        get("/api/v1/operator/objects", cluster=cluster)
    assert client.get("/metrics").status_code == 200
    return reads


def _clusters(database_url: str) -> list[str]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT DISTINCT cluster FROM operator_objects"))
            return sorted(cluster for (cluster,) in found)
    finally:
        engine.dispose()
