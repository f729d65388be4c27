"""A change's fields: one set of names across every place that declares them.

The table declares storage types, the request body limits, the response what clients see, the
draft what producers say; code that copies values between them goes by name. These tests fail
when a field is added to one of them and not to the others, so a new column cannot silently
stay out of responses, nor a posted field out of webhook drafts.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from changetrail_api.changes.models import PRIVATE_COLUMNS, PUBLIC_COLUMNS, Change
from changetrail_api.changes.schemas import COMPUTED_FIELDS, ChangeCreate, ChangeOut
from changetrail_api.changes.service import draft_to_create, to_out
from changetrail_api.detectors.native import CHANGE_FIELDS
from changetrail_api.domain import ChangeDraft, ChangeType, Outcome, RiskLevel

# What the API assigns when it stores a change; docs/api.md: "A response has every field above
# plus `id`, `service_name` and `created_at`".
ASSIGNED_ON_STORE = {"id", "created_at"}
# What a draft carries beyond a posted change: a service by name, not yet resolved to an id.
DRAFT_HINTS = {"service_name"}
DRAFT_FIELDS = {field.name for field in dataclasses.fields(ChangeDraft)}

# A value for every field of a draft, each distinct from the field's default.
EVERY_FIELD: dict[str, Any] = {
    "summary": "Roll billing back to v2.0.9",
    "change_type": ChangeType.ROLLBACK,
    "description": "Error rate above 5% after v2.1.0",
    "source": "jenkins",
    "service_id": "svc_01jq0000000000000000000000",
    "service_name": "billing",
    "commit_sha": "abc1234def5678",
    "commit_message": "Revert the billing module",
    "branch": "main",
    "pr_number": "42",
    "pr_url": "https://git.example/acme/billing/pull/42",
    "pipeline_url": "https://ci.example/job/billing/7",
    "environment": "staging",
    "risk_level": RiskLevel.HIGH,
    "changed_by": "jane.doe",
    "external_id": "jenkins-billing-7",
    "tags": ("billing", "rollback"),
    "occurred_at": datetime(2026, 3, 30, 15, 30, tzinfo=UTC),
    "ended_at": datetime(2026, 3, 30, 15, 45, tzinfo=UTC),
    "details": {"reason": "error rate"},
    "outcome": Outcome.SUCCEEDED,
    "outcome_reason": "all replicas updated",
}


def test_a_response_has_every_public_column_and_the_computed_fields() -> None:
    assert set(ChangeOut.model_fields) == set(PUBLIC_COLUMNS) | set(COMPUTED_FIELDS)


def test_only_the_tenant_and_the_replay_key_are_kept_from_responses() -> None:
    columns = {column.key for column in Change.__table__.columns}
    assert columns - set(PUBLIC_COLUMNS) == PRIVATE_COLUMNS == {"org_id", "idempotency_key"}


def test_a_post_sets_every_public_column_but_those_assigned_on_store() -> None:
    assert set(ChangeCreate.model_fields) == set(PUBLIC_COLUMNS) - ASSIGNED_ON_STORE


def test_a_draft_has_every_field_a_post_accepts_and_its_hints() -> None:
    assert set(ChangeCreate.model_fields) | DRAFT_HINTS == DRAFT_FIELDS


def test_the_own_format_accepts_every_draft_field() -> None:
    assert CHANGE_FIELDS == DRAFT_FIELDS


def test_a_draft_becomes_a_posted_change_field_for_field() -> None:
    assert EVERY_FIELD.keys() == DRAFT_FIELDS

    posted = draft_to_create(ChangeDraft(**EVERY_FIELD), default_environment="production")

    for name, value in posted.model_dump().items():
        expected = EVERY_FIELD[name]
        assert value == (list(expected) if isinstance(expected, tuple) else expected), name


def test_a_stored_change_shows_every_public_column() -> None:
    posted = draft_to_create(ChangeDraft(**EVERY_FIELD), default_environment=None)
    stored = Change(
        **posted.model_dump(),
        id="chg_01jq0000000000000000000000",
        org_id="org_01jq0000000000000000000000",
        idempotency_key=None,
        created_at=datetime(2026, 3, 30, 15, 31, tzinfo=UTC),
    )

    shown = to_out(stored, "Billing").model_dump()

    assert shown["service_name"] == "Billing"
    for name in PUBLIC_COLUMNS:
        assert shown[name] == getattr(stored, name), name
