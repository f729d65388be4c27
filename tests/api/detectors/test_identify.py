"""Which provider reads a request: headers first, then shape, in registry order."""

from __future__ import annotations

import pytest

from changetrail_api.detectors import PROVIDERS, identify
from tests.api.detectors.factories import delivery, raw


def test_the_registry_is_ordered_providers_then_own_format_then_fallback() -> None:
    assert [provider.name for provider in PROVIDERS] == [
        "github",
        "gitlab",
        "aws_cloudtrail",
        "azure_monitor",
        "gcp_audit_logs",
        "webhook",
        "webhook",
    ]


@pytest.mark.parametrize(
    ("header", "value", "source"),
    [
        ("x-github-event", "push", "github"),
        ("x-gitlab-event", "Push Hook", "gitlab"),
        ("x-amz-sns-message-type", "Notification", "aws_cloudtrail"),
        ("user-agent", "Amazon/EventBridge/ApiDestinations", "aws_cloudtrail"),
        ("aeg-event-type", "Notification", "azure_monitor"),
        ("ce-type", "google.cloud.audit.log.v1.written", "gcp_audit_logs"),
    ],
)
def test_a_provider_header_decides_whatever_the_payload_looks_like(
    header: str, value: str, source: str
) -> None:
    looks_like_gitlab = delivery("gitlab/push").payload()

    assert identify({header: value}, looks_like_gitlab).name == source


def test_header_names_may_arrive_in_any_case() -> None:
    assert identify({"X-GitHub-Event": "push"}, {}).name == "github"


def test_an_eventarc_delivery_is_recognised_by_its_cloudevent_headers() -> None:
    eventarc = delivery("gcp/eventarc-binary-gke-createnodepool")

    assert identify(eventarc.headers, eventarc.payload()).name == "gcp_audit_logs"


def test_a_cloudevent_type_from_another_vendor_is_not_taken_for_gcp() -> None:
    detection = raw({"id": "1"}, ce_type="com.example.deployed").detect()

    assert detection.source == "webhook"


@pytest.mark.parametrize(
    "payload",
    [
        {"summary": "Deploy", "environment": "staging"},
        {"summary": "Deploy", "change_type": "rollback", "tags": ["x"]},
    ],
)
def test_own_format_is_recognised_before_the_fallback(payload: dict[str, object]) -> None:
    assert identify({}, payload) is PROVIDERS[-2]


@pytest.mark.parametrize(
    "payload",
    [{"text": "hello"}, [1, 2], "deployed", 3, {"summary": 5}, {"source": "aws.ecs"}],
)
def test_anything_unrecognised_falls_back_to_the_generic_reader(payload: object) -> None:
    assert identify({}, payload) is PROVIDERS[-1]
