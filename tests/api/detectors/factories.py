"""Fixture loading and payload factories for the detector tests.

Fixtures under ``fixtures/<provider>/`` are complete deliveries: ``<name>.json`` is the body as
sent and ``<name>.headers.json`` the headers that came with it. Factories start from a
fixture and change only what a test is about, so each test states its one difference.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from changetrail_api.detectors import Detection, analyse

FIXTURES = Path(__file__).parent / "fixtures"
GITHUB_TEST_SECRET = "It's a Secret to Everybody"
GITLAB_TEST_TOKEN = "glwh-3c9f1e2a7b"


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes

    def payload(self) -> Any:
        return json.loads(self.body)

    def with_payload(self, payload: object) -> Delivery:
        return Delivery(dict(self.headers), json.dumps(payload).encode())

    def with_headers(self, **headers: str) -> Delivery:
        extra = {name.replace("_", "-").lower(): value for name, value in headers.items()}
        return Delivery({**self.headers, **extra}, self.body)

    def without_headers(self) -> Delivery:
        return Delivery({}, self.body)

    def detect(self, secret: str | None = None) -> Detection:
        return analyse(self.headers, self.body, secret)


def all_fixture_names() -> list[str]:
    """``provider/name`` of every fixture body."""
    return sorted(
        f"{path.parent.name}/{path.stem}"
        for path in FIXTURES.glob("*/*.json")
        if not path.name.endswith(".headers.json")
    )


def delivery(name: str) -> Delivery:
    """The fixture ``provider/name`` as received: its exact bytes and lower-cased headers."""
    body = (FIXTURES / f"{name}.json").read_bytes()
    headers_file = FIXTURES / f"{name}.headers.json"
    headers: dict[str, str] = {}
    if headers_file.exists():
        headers = {k.lower(): v for k, v in json.loads(headers_file.read_text()).items()}
    return Delivery(headers, body)


def edited(name: str, *edits: tuple[tuple[str | int, ...], object]) -> Delivery:
    """The fixture with values replaced at the given paths (the headers stay as they are)."""
    original = delivery(name)
    payload = copy.deepcopy(original.payload())
    for path, value in edits:
        node = payload
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
    return original.with_payload(payload)


def cloudtrail_record(
    event_source: str, event_name: str, request: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """A CloudTrail record modelled on the ECS call in the EventBridge fixture."""
    record: dict[str, Any] = copy.deepcopy(
        delivery("aws/eventbridge-cloudtrail-ecs-updateservice").payload()["detail"]
    )
    record.update(
        eventSource=f"{event_source}.amazonaws.com",
        eventName=event_name,
        requestParameters=request or {},
        responseElements=None,
        resources=[],
    )
    record.update(fields)
    return record


def cloudtrail_log(*records: dict[str, Any]) -> Delivery:
    return Delivery({}, json.dumps({"Records": list(records)}).encode())


def eventbridge(detail_type: str, source: str, detail: dict[str, Any], **envelope: Any) -> Delivery:
    """An EventBridge event as an API destination delivers it."""
    base = delivery("aws/eventbridge-codedeploy-success")
    payload = {**base.payload(), "detail-type": detail_type, "source": source, "detail": detail}
    payload.update(envelope)
    return base.with_payload(payload)


def sns_notification(message: object) -> Delivery:
    """An SNS HTTPS delivery whose Message is ``message`` (JSON-encoded unless a string)."""
    base = delivery("aws/sns-notification-eventbridge")
    payload = base.payload()
    payload["Message"] = message if isinstance(message, str) else json.dumps(message)
    return base.with_payload(payload)


def audit_log_entry(method: str, service: str, **fields: Any) -> dict[str, Any]:
    """A GCP Admin Activity entry modelled on the Cloud Run fixture."""
    entry: dict[str, Any] = copy.deepcopy(delivery("gcp/logentry-run-replaceservice").payload())
    entry["protoPayload"].update(methodName=method, serviceName=service)
    entry.update(fields)
    return entry


def pubsub_push(data: bytes) -> Delivery:
    """A Pub/Sub push delivery whose message carries ``data``."""
    base = delivery("gcp/pubsub-push-logsink-compute-resize")
    payload = base.payload()
    payload["message"]["data"] = base64.b64encode(data).decode()
    return base.with_payload(payload)


def raw(payload: object, **headers: str) -> Delivery:
    """Any JSON value, with the given headers."""
    return Delivery({}, json.dumps(payload).encode()).with_headers(**headers)
