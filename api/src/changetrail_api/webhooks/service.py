"""Webhook endpoints (management) and turning detected payloads into stored changes."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import new_id, utcnow_ms
from changetrail_api.changes import service as changes_service
from changetrail_api.domain import ChangeDraft
from changetrail_api.errors import FieldError, NotFoundError, ProblemError
from changetrail_api.security import hash_secret, new_webhook_token
from changetrail_api.services import service as services_service
from changetrail_api.webhooks import repository
from changetrail_api.webhooks.models import WebhookEndpoint
from changetrail_api.webhooks.schemas import NewWebhookOut, WebhookCreate, WebhookOut

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
    session: AsyncSession, endpoint: WebhookEndpoint, draft: ChangeDraft
) -> tuple[str | None, str | None]:
    """The service id to record under, or (None, reason) when the draft names a foreign one."""
    if draft.service_id is not None:
        if await services_service.find(session, endpoint.org_id, draft.service_id) is None:
            return None, f"unknown service_id {draft.service_id!r}"
        return draft.service_id, None
    if draft.service_name:
        found = await services_service.find_by_name_or_slug(
            session, endpoint.org_id, draft.service_name
        )
        if found is not None:
            return found.id, None
    return endpoint.service_id, None


async def record_drafts(
    session: AsyncSession, endpoint: WebhookEndpoint, drafts: list[ChangeDraft]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Store each draft; returns (recorded changes, skipped entries)."""
    recorded: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for draft in drafts:
        service_id, problem = await _service_for(session, endpoint, draft)
        if problem is not None:
            skipped.append({"reason": problem, "summary": draft.summary[:200]})
            continue
        try:
            create = changes_service.draft_to_create(
                draft, default_environment=endpoint.environment
            ).model_copy(update={"service_id": service_id})
        except ValidationError as exc:
            fields = ", ".join(sorted({".".join(map(str, e["loc"])) for e in exc.errors()}))
            skipped.append({"reason": f"invalid change fields: {fields}"})
            continue
        change, created = await changes_service.record(session, endpoint.org_id, create)
        if created:
            recorded.append(change.model_dump(mode="json"))
        else:
            skipped.append({"reason": "already recorded (redelivery)", "change_id": change.id})
    return recorded, skipped
