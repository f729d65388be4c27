"""Changes and messages as the channel code sees them, built without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from changetrail_api.changes.schemas import ChangeOut
from changetrail_api.channels.payloads.common import Context, Item, Message

T0 = datetime(2026, 3, 30, 15, 30, tzinfo=UTC)


def change(n: int = 1, **fields: Any) -> ChangeOut:
    values: dict[str, Any] = {
        "id": f"chg_{n:026d}",
        "service_id": "svc_payments",
        "service_name": "payments",
        "change_type": "deployment",
        "summary": "Deploy payments/api: api:1.4.2 → 1.5.0",
        "description": None,
        "source": "kubernetes",
        "commit_sha": "abc1234def5678",
        "commit_message": None,
        "branch": "main",
        "pr_number": None,
        "pr_url": "https://github.example.com/shop/payments/pull/42",
        "pipeline_url": None,
        "environment": "production",
        "risk_level": "medium",
        "changed_by": "jane.doe",
        "external_id": None,
        "tags": ["cluster:eu-1", "namespace:payments", "kind:Deployment"],
        "details": None,
        "outcome": None,
        "outcome_reason": None,
        "occurred_at": T0 + timedelta(seconds=n),
        "ended_at": None,
        "created_at": T0 + timedelta(seconds=n),
    }
    values.update(fields)
    return ChangeOut.model_validate(values)


def message(*changes: ChangeOut, message_id: str = "msg_1") -> Message:
    items = tuple(Item(f"dlv_{n}", c) for n, c in enumerate(changes or (change(),)))
    return Message(id=message_id, items=items)


def test_message() -> Message:
    return Message(id="msg_test", items=(), test=True)


test_message.__test__ = False  # type: ignore[attr-defined]  # a factory, not a test


def context(**fields: Any) -> Context:
    values: dict[str, Any] = {
        "org_id": "org_1",
        "channel_id": "chn_1",
        "channel_name": "deploys",
        "public_url": "https://changetrail.example.com",
        **fields,
    }
    return Context(**values)
