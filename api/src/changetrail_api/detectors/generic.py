"""The fallback for JSON no other detector recognises: record something a person can read.

The summary comes from the first field that usually describes an event (``title``,
``message``, ...); ``external_id`` is a digest of the payload, so a sender that retries the same
body is recorded once.
"""

from __future__ import annotations

from changetrail_api.detectors.fields import clip, content_digest, first_text, text
from changetrail_api.detectors.model import Detection, Headers, Skip
from changetrail_api.detectors.native import DEFAULT_SOURCE
from changetrail_api.detectors.shared_token import verify_shared_token
from changetrail_api.domain import ChangeDraft, ChangeType

_SUMMARY_KEYS = (
    "summary",
    "title",
    "message",
    "text",
    "description",
    "subject",
    "name",
    "event",
    "event_type",
    "eventType",
    "type",
    "action",
    "status",
)
_ACTOR_KEYS = ("changed_by", "user", "username", "author", "actor", "triggered_by", "email")
_SHA_KEYS = ("commit_sha", "sha", "commit", "revision")
_BRANCH_KEYS = ("branch", "ref")
_ENVIRONMENT_KEYS = ("environment", "env", "stage")
_SERVICE_KEYS = ("service", "service_name", "app", "application", "project", "repository")


class Generic:
    name = DEFAULT_SOURCE

    def claims_headers(self, headers: Headers) -> bool:
        return False

    def claims_payload(self, payload: object) -> bool:
        return True

    def verify(self, headers: Headers, body: bytes, secret: str) -> bool:
        return verify_shared_token(headers, secret)

    def parse(self, headers: Headers, payload: object) -> Detection:
        event = "unrecognised"
        if payload in ({}, [], None, ""):
            return Detection(DEFAULT_SOURCE, event, [], [Skip("the payload is empty")])
        return Detection(DEFAULT_SOURCE, event, [describe(payload)], [])


def describe(payload: object) -> ChangeDraft:
    """A best-effort change for an unknown JSON value."""
    if isinstance(payload, dict):
        found = first_text(payload, *((key,) for key in _SUMMARY_KEYS))
        keys = ", ".join(sorted(str(key) for key in payload)[:8])
        summary = found if found is not None else f"Webhook payload with fields {keys}"
    elif isinstance(payload, list):
        summary = f"Webhook payload: a list of {len(payload)} items"
    else:
        summary = f"Webhook payload: {payload}"
    return ChangeDraft(
        summary=clip(f"{summary}"),
        change_type=ChangeType.OTHER,
        source=DEFAULT_SOURCE,
        service_name=_pick(payload, _SERVICE_KEYS),
        commit_sha=_pick(payload, _SHA_KEYS),
        branch=_pick(payload, _BRANCH_KEYS),
        environment=_pick(payload, _ENVIRONMENT_KEYS),
        changed_by=_pick(payload, _ACTOR_KEYS),
        external_id=f"sha256:{content_digest(payload)}",
        tags=("unrecognised",),
        details={"fields": sorted(str(key) for key in payload)[:50]}
        if isinstance(payload, dict)
        else None,
    )


def _pick(payload: object, keys: tuple[str, ...]) -> str | None:
    """A short string under one of ``keys``; long or structured values are not worth a guess."""
    for key in keys:
        value = text(payload, key)
        if value is not None and len(value) <= 200:
            return value
    return None
