"""Vocabulary shared by every component: change types, risk levels and a change draft.

The API stores drafts, the webhook detectors and the operator produce them. Nothing here
does I/O, so both sides can import it without depending on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    """How a change that takes time (a rollout) ended, or that it has not yet."""

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
    """A change as a producer describes it, before the API gives it an id.

    ``None`` means "not known, let the API apply its default" (for ``source``,
    ``environment`` and ``risk_level`` the contract's defaults are ``api``,
    ``production`` and ``low``).

    Its fields are the ones a change can be posted with, plus the ``service_name`` hint, and
    code that handles drafts takes them by name from here (the own-format detector, the API's
    conversion to a posted change); tests hold the API's request body, columns and response
    to the same names.
    """

    summary: str
    change_type: ChangeType = ChangeType.DEPLOYMENT
    description: str | None = None
    source: str | None = None
    service_id: str | None = None
    # A service named by the producer (repository, function, workload). The API links it to an
    # existing service with that name or slug; it never creates services from a hint.
    service_name: str | None = None
    commit_sha: str | None = None
    commit_message: str | None = None
    branch: str | None = None
    pr_number: str | None = None
    pr_url: str | None = None
    pipeline_url: str | None = None
    environment: str | None = None
    risk_level: RiskLevel | None = None
    changed_by: str | None = None
    external_id: str | None = None
    tags: tuple[str, ...] = ()
    occurred_at: datetime | None = None
    ended_at: datetime | None = None
    details: dict[str, Any] | None = field(default=None)
    # How the change ended (a rollout), when the producer knows; see Outcome.
    outcome: Outcome | None = None
    outcome_reason: str | None = None
