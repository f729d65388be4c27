"""Models built without validation answer exactly as validated ones do."""

from __future__ import annotations

from datetime import UTC, datetime

from changetrail_api.changes.schemas import ChangeBatchItem, ChangeOut
from changetrail_api.changes.service import row_out
from changetrail_api.trusted import built

ROW = {
    "id": "chg_01m8v1pr0csde93vnjvvak3ac7",
    "service_id": "svc_01m8v1pr0csde93vnjvvak3ac8",
    "service_name": "payments",
    "change_type": "deployment",
    "summary": "Deploy payments/api: api:1.4.2 → 1.5.0",
    "description": None,
    "source": "kubernetes",
    "commit_sha": "abc1234",
    "commit_message": None,
    "branch": "main",
    "pr_number": "42",
    "pr_url": None,
    "pipeline_url": None,
    "environment": "production",
    "risk_level": "medium",
    "changed_by": "kubectl",
    "external_id": "uid-1/rev-2",
    "tags": ["cluster:eu", "namespace:payments"],
    "details": {"diff": [{"path": "spec.template", "from": 1, "to": None}]},
    "occurred_at": datetime(2026, 3, 30, 15, 30, 0, 123000),
    "ended_at": None,
    "created_at": datetime(2026, 3, 30, 15, 30, 1, 5000, tzinfo=UTC),
    "outcome": "in_progress",
    "outcome_reason": None,
}


def test_a_change_built_from_a_row_serialises_as_a_validated_one() -> None:
    validated = ChangeOut.model_validate(ROW)
    # The row's keys in another order than the model's fields: the output follows the model.
    shuffled = dict(reversed(list(ROW.items())))
    from_row = row_out(shuffled)
    assert from_row.model_dump_json() == validated.model_dump_json()
    assert from_row.model_dump(mode="json") == validated.model_dump(mode="json")
    assert from_row.summary == ROW["summary"]
    assert from_row.model_fields_set == set(ChangeOut.model_fields)


def test_a_batch_item_built_around_a_change_serialises_as_a_validated_one() -> None:
    change = row_out(ROW)
    item = built(ChangeBatchItem, {"status": "created", "change": change, "errors": None})
    validated = ChangeBatchItem(status="created", change=ChangeOut.model_validate(ROW), errors=None)
    assert item.model_dump_json() == validated.model_dump_json()
