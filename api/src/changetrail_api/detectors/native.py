"""Payloads already in changetrail's own change format (the Changes API request body).

Recognised when the body is an object with a string ``summary`` and no key outside the
change fields (or a non-empty array of such objects), so a CI job can post the same JSON to
the webhook URL that it would post to ``/api/v1/changes``. Types are checked loosely
(``pr_number`` may be a number); a payload that cannot become a change is skipped with the
reason instead of guessed at.
"""

from __future__ import annotations

import dataclasses
from typing import Any, get_type_hints

from changetrail_api.detectors.fields import timestamp
from changetrail_api.detectors.model import Detection, Headers, Skip
from changetrail_api.detectors.shared_token import verify_shared_token
from changetrail_api.domain import ChangeDraft, ChangeType, RiskLevel

DEFAULT_SOURCE = "webhook"

# The draft declares the change fields; these follow it, so a field added there is accepted here.
CHANGE_FIELDS = frozenset(field.name for field in dataclasses.fields(ChangeDraft))
# The optional text fields, checked alike below; the others each have their own check.
_TEXT_FIELDS = tuple(
    name for name, hint in get_type_hints(ChangeDraft).items() if hint == str | None
)
_SUMMARY_LIMIT = 500


class Native:
    name = DEFAULT_SOURCE

    def claims_headers(self, headers: Headers) -> bool:
        return False

    def claims_payload(self, payload: object) -> bool:
        if isinstance(payload, list):
            return bool(payload) and all(is_own_format(item) for item in payload)
        return is_own_format(payload)

    def verify(self, headers: Headers, body: bytes, secret: str) -> bool:
        return verify_shared_token(headers, secret)

    def parse(self, headers: Headers, payload: object) -> Detection:
        batch = payload if isinstance(payload, list) else [payload]
        changes: list[ChangeDraft] = []
        skipped: list[Skip] = []
        for position, item in enumerate(batch):
            outcome = to_draft(item if isinstance(item, dict) else {})
            if isinstance(outcome, Skip):
                where = f"change [{position}]: " if isinstance(payload, list) else ""
                skipped.append(Skip(where + outcome.reason))
            else:
                changes.append(outcome)
        sources = {_declared_source(item) for item in batch}
        source = sources.pop() if len(sources) == 1 else DEFAULT_SOURCE
        return Detection(
            source, "changes" if isinstance(payload, list) else "change", changes, skipped
        )


def is_own_format(value: object) -> bool:
    """An object with a string summary and nothing but change fields."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("summary"), str)
        and value.keys() <= CHANGE_FIELDS
    )


def _declared_source(item: object) -> str:
    source = item.get("source") if isinstance(item, dict) else None
    return source if isinstance(source, str) and source.strip() else DEFAULT_SOURCE


def to_draft(payload: dict[str, Any]) -> ChangeDraft | Skip:
    """Validate loosely and build the draft; the first unusable field becomes the skip reason."""
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        return Skip("own-format change without a summary")
    if len(summary) > _SUMMARY_LIMIT:
        return Skip(f"summary is longer than {_SUMMARY_LIMIT} characters")
    fields: dict[str, Any] = {}
    for key in _TEXT_FIELDS:
        value = payload.get(key)
        if value is None:
            continue
        if key == "pr_number" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            return Skip(f"{key} must be a string, got {type(value).__name__}")
        fields[key] = value
    fields.setdefault("source", DEFAULT_SOURCE)
    change_type = payload.get("change_type", ChangeType.DEPLOYMENT.value)
    if not isinstance(change_type, str) or change_type not in {m.value for m in ChangeType}:
        allowed = ", ".join(member.value for member in ChangeType)
        return Skip(f"change_type {change_type!r} is not one of: {allowed}")
    risk = payload.get("risk_level")
    if risk is not None and (not isinstance(risk, str) or risk not in {m.value for m in RiskLevel}):
        allowed = ", ".join(member.value for member in RiskLevel)
        return Skip(f"risk_level {risk!r} is not one of: {allowed}")
    tags = payload.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        return Skip("tags must be a list of strings")
    details = payload.get("details")
    if details is not None and not isinstance(details, dict):
        return Skip("details must be an object")
    for key in ("occurred_at", "ended_at"):
        if payload.get(key) is not None and timestamp(payload, key) is None:
            return Skip(f"{key} is not an ISO 8601 date-time")
    return ChangeDraft(
        summary=summary.strip(),
        change_type=ChangeType(change_type),
        risk_level=RiskLevel(risk) if risk is not None else None,
        tags=tuple(tags),
        details=details,
        occurred_at=timestamp(payload, "occurred_at"),
        ended_at=timestamp(payload, "ended_at"),
        **fields,
    )
