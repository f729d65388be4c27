"""A change as the operator describes it, before the API records it.

The operator shares no code with the API: what both sides agree on is the HTTP contract. The
enums below hold the contract's values (a test checks them and the payloads the operator sends
against the API's OpenAPI document), so a drift fails a test instead of a request.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class ChangeType(StrEnum):
    DEPLOYMENT = "deployment"
    CONFIG_CHANGE = "config_change"
    INFRASTRUCTURE = "infrastructure"
    CODE = "code"
    DATABASE_MIGRATION = "database_migration"
    FEATURE_FLAG = "feature_flag"
    ROLLBACK = "rollback"
    SCALING = "scaling"
    SECURITY_PATCH = "security_patch"
    OTHER = "other"


class Outcome(StrEnum):
    """How a recorded rollout ended (or that it has not yet)."""

    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    ROLLED_BACK = "rolled_back"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class ChangeDraft:
    """One observed change. ``None`` leaves the field to the API's default."""

    summary: str
    change_type: ChangeType = ChangeType.DEPLOYMENT
    description: str | None = None
    source: str | None = None
    # The workload's service name; the API client resolves it to a service id (creating the
    # service when allowed) before posting.
    service_name: str | None = None
    environment: str | None = None
    risk_level: RiskLevel | None = None
    changed_by: str | None = None
    external_id: str | None = None
    tags: tuple[str, ...] = ()
    occurred_at: datetime | None = None
    details: dict[str, Any] | None = field(default=None)
    # ``in_progress`` for a rollout the operator follows until the controller reports how it
    # ended (see ``rollouts``); None for a change that is over when it is made. A rollout that
    # ended before its change was posted is posted ended, with its end and why.
    outcome: Outcome | None = None
    ended_at: datetime | None = None
    outcome_reason: str | None = None


def ended(draft: ChangeDraft, completion: Completion) -> ChangeDraft:
    """The change of a rollout as it is recorded once ``completion`` has ended it."""
    ended_at = completion.ended_at
    if ended_at is not None and draft.occurred_at is not None:
        ended_at = max(ended_at, draft.occurred_at)  # the API refuses an end before the start
    return replace(
        draft, outcome=completion.outcome, ended_at=ended_at, outcome_reason=completion.reason
    )


@dataclass(frozen=True, slots=True)
class Completion:
    """How a recorded rollout ended: sent to the API for the change with ``external_id``."""

    external_id: str
    outcome: Outcome
    ended_at: datetime | None
    reason: str | None = None
    # The source that recorded the change: only it may complete it.
    source: str = "kubernetes"
