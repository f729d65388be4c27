"""Webhook endpoints (management) and turning detected payloads into stored changes."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import new_id, utcnow_ms
from changetrail_api.changes import service as changes_service
from changetrail_api.changes.schemas import ChangeCreate
from changetrail_api.domain import ChangeDraft
from changetrail_api.errors import FieldError, NotFoundError, ProblemError
from changetrail_api.security import hash_secret, new_webhook_token
from changetrail_api.services import service as services_service
from changetrail_api.webhooks import repository
from changetrail_api.webhooks.models import WebhookEndpoint
from changetrail_api.webhooks.schemas import NewWebhookOut, WebhookCreate, WebhookOut

# The most changes one delivery records. Recording holds the database's write lock on SQLite
# for a few milliseconds per change; this keeps that under a second. Documented in webhooks.md.
MAX_CHANGES_PER_DELIVERY = 100

RECEIVER_PATHS = {
    "changes": "/api/webhooks/incoming/changes/{token}",
    "alertmanager": "/api/webhooks/incoming/alertmanager/{token}",
}


def to_out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        name=endpoint.name,
        kind=endpoint.kind,
        service_id=endpoint.service_id,
        environment=endpoint.environment,
        has_secret=endpoint.secret is not None,
        created_at=endpoint.created_at,
    )


async def create(session: AsyncSession, org_id: str, body: WebhookCreate) -> NewWebhookOut:
    if body.service_id is not None and (
        await services_service.find(session, org_id, body.service_id) is None
    ):
        raise FieldError("service_id", f"no service {body.service_id!r} in this organisation")
    token = new_webhook_token()
    endpoint = WebhookEndpoint(
        id=new_id("whk"),
        org_id=org_id,
        kind=body.kind,
        name=body.name,
        token_hash=hash_secret(token),
        secret=body.secret,
        service_id=body.service_id,
        environment=body.environment,
        created_at=utcnow_ms(),
    )
    await repository.add(session, endpoint)
    return NewWebhookOut(
        **to_out(endpoint).model_dump(),
        token=token,
        path=RECEIVER_PATHS[body.kind].format(token=token),
    )


async def list_endpoints(
    session: AsyncSession, org_id: str, *, limit: int, offset: int
) -> tuple[list[WebhookOut], int]:
    rows, total = await repository.page(session, org_id, limit=limit, offset=offset)
    return [to_out(row) for row in rows], total


async def delete(session: AsyncSession, org_id: str, endpoint_id: str) -> None:
    """Delete an endpoint of this organisation; another organisation's reads as unknown."""
    if not await repository.remove(session, org_id, endpoint_id):
        raise NotFoundError("webhook", endpoint_id)


async def endpoint_for_token(session: AsyncSession, kind: str, token: str) -> WebhookEndpoint:
    if len(token) > 200:
        raise ProblemError(404, "Unknown webhook token.")
    endpoint = await repository.by_token_hash(session, kind, hash_secret(token))
    if endpoint is None:
        raise ProblemError(404, "Unknown webhook token.")
    return endpoint


async def _service_for(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    draft: ChangeDraft,
    known: dict[tuple[str, str], str | None],
) -> tuple[str | None, str | None]:
    """The service id to record under, or (None, reason) when the draft names a foreign one.

    ``known`` remembers look-ups within one delivery: a batch names the same few services over
    and over.
    """
    if draft.service_id is not None:
        key = ("id", draft.service_id)
        if key not in known:
            found = await services_service.find(session, endpoint.org_id, draft.service_id)
            known[key] = None if found is None else found.id
        if known[key] is None:
            return None, f"unknown service_id {draft.service_id!r}"
        return draft.service_id, None
    if draft.service_name:
        key = ("name", draft.service_name)
        if key not in known:
            named = await services_service.find_by_name_or_slug(
                session, endpoint.org_id, draft.service_name
            )
            known[key] = None if named is None else named.id
        if known[key] is not None:
            return known[key], None
    return endpoint.service_id, None


def _skip_reason(error: ValidationError | FieldError) -> str:
    if isinstance(error, FieldError):
        return f"invalid change fields: {error.detail}"
    fields = ", ".join(sorted({".".join(map(str, e["loc"])) for e in error.errors()}))
    return f"invalid change fields: {fields}"


async def record_drafts(
    session: AsyncSession, endpoint: WebhookEndpoint, drafts: list[ChangeDraft]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Store each draft; returns (recorded changes, skipped entries).

    Everything that only reads (validation, service look-ups) happens before the first write,
    and a delivery records at most ``MAX_CHANGES_PER_DELIVERY`` changes: the write transaction,
    which on SQLite holds the database's single write lock, stays short whatever was sent.
    """
    if len(drafts) > MAX_CHANGES_PER_DELIVERY:
        raise ProblemError(
            422,
            f"This delivery describes {len(drafts)} changes; a webhook delivery records at most "
            f"{MAX_CHANGES_PER_DELIVERY}. Split it, or post batches to the Changes API.",
            errors=[{"field": "body", "message": f"at most {MAX_CHANGES_PER_DELIVERY} changes"}],
        )
    skipped: list[dict[str, Any]] = []
    ready: list[ChangeCreate] = []
    known: dict[tuple[str, str], str | None] = {}
    for draft in drafts:
        service_id, problem = await _service_for(session, endpoint, draft, known)
        if problem is not None:
            skipped.append({"reason": problem, "summary": draft.summary[:200]})
            continue
        try:
            create = changes_service.draft_to_create(
                draft, default_environment=endpoint.environment
            ).model_copy(update={"service_id": service_id})
        except ValidationError as exc:
            skipped.append({"reason": _skip_reason(exc)})
            continue
        ready.append(create)
    recorded: list[dict[str, Any]] = []
    for create in ready:
        try:
            change, created = await changes_service.record(session, endpoint.org_id, create)
        except FieldError as exc:  # a check that needs the clock or the database
            skipped.append({"reason": _skip_reason(exc)})
            continue
        if created:
            recorded.append(change.model_dump(mode="json"))
        else:
            skipped.append({"reason": "already recorded (redelivery)", "change_id": change.id})
    return recorded, skipped
