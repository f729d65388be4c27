"""Payloads in changetrail's own format, and the fallback for anything else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from changetrail_api.domain import ChangeType, RiskLevel
from tests.api.detectors.factories import delivery, edited, raw


def test_own_format_keeps_every_field_and_its_source() -> None:
    detection = delivery("native/own-format-change").detect()

    (change,) = detection.changes
    assert detection.source == change.source == "jenkins"
    assert change.pr_number == "904"  # a JSON number becomes the contract's string
    assert change.risk_level is RiskLevel.MEDIUM
    assert change.tags == ("ledger", "batch")
    assert change.occurred_at == datetime(2026, 3, 30, 15, 12, tzinfo=UTC)
    assert change.external_id == "jenkins:ledger:1288"


def test_own_format_without_source_is_a_webhook_change_of_the_default_type() -> None:
    detection = raw({"summary": "Flip cache TTL"}).detect()

    (change,) = detection.changes
    assert detection.source == change.source == "webhook"
    assert change.change_type is ChangeType.DEPLOYMENT


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("change_type", "DEPLOYMENT", "change_type 'DEPLOYMENT' is not one of"),
        ("risk_level", "severe", "risk_level 'severe' is not one of"),
        ("tags", "billing", "tags must be a list of strings"),
        ("branch", 12, "branch must be a string"),
        ("occurred_at", "yesterday", "occurred_at is not an ISO 8601 date-time"),
        ("summary", "", "own-format change without a summary"),
    ],
)
def test_unusable_own_format_is_skipped_with_the_reason(
    field: str, value: object, reason: str
) -> None:
    detection = edited("native/own-format-change", ((field,), value)).detect()

    assert detection.changes == []
    assert detection.skipped[0].reason.startswith(reason)


def test_an_array_of_own_format_changes_records_each_and_explains_the_unusable() -> None:
    detection = raw(
        [
            {"summary": "Migrate orders schema", "change_type": "database_migration"},
            {"summary": "Bump pool size", "change_type": "config_change"},
            {"summary": "Bad one", "risk_level": "extreme"},
        ]
    ).detect()

    assert detection.source == "webhook"
    assert detection.event == "changes"
    assert [c.change_type for c in detection.changes] == [
        ChangeType.DATABASE_MIGRATION,
        ChangeType.CONFIG_CHANGE,
    ]
    assert detection.skipped[0].reason.startswith("change [2]: risk_level 'extreme'")


def test_an_array_sharing_one_source_is_detected_as_that_source() -> None:
    detection = raw(
        [{"summary": "a", "source": "argo"}, {"summary": "b", "source": "argo"}]
    ).detect()

    assert detection.source == "argo"


def test_unknown_payload_gets_a_readable_summary_and_best_effort_fields() -> None:
    (change,) = delivery("generic/statuspage-style").detect().changes

    assert change.change_type is ChangeType.OTHER
    assert change.changed_by == "pm-lisa"
    assert change.environment == "production"
    assert change.external_id is not None
    assert change.external_id.startswith("sha256:")


def test_unknown_payload_without_a_describing_field_lists_its_fields() -> None:
    (change,) = raw({"b": 1, "a": [1, 2]}).detect().changes

    assert change.summary == "Webhook payload with fields a, b"


def test_an_own_format_object_with_extra_fields_falls_back_to_generic() -> None:
    detection = raw({"summary": "Deploy", "build_number": 7}).detect()

    assert detection.event == "unrecognised"
    assert detection.changes[0].summary == "Deploy"


def test_the_generic_external_id_ignores_key_order_and_whitespace() -> None:
    first = raw({"title": "x", "n": 1}).detect().changes[0]
    second = raw({"n": 1, "title": "x"}).detect().changes[0]

    assert first.external_id == second.external_id


@pytest.mark.parametrize("payload", [{}, [], None, ""])
def test_empty_payloads_record_nothing(payload: object) -> None:
    detection = raw(payload).detect()

    assert detection.changes == []
    assert detection.skipped[0].reason == "the payload is empty"


@pytest.mark.parametrize("payload", [42, "deployed", [1, 2, 3], True])
def test_scalar_and_list_payloads_still_record_something(payload: object) -> None:
    (change,) = raw(payload).detect().changes

    assert change.summary.startswith("Webhook payload")
