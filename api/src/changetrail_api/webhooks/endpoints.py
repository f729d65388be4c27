from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from changetrail_api.auth import Principal, require
from changetrail_api.deps import SessionDep
from changetrail_api.pagination import PageDep
from changetrail_api.scopes import Scope
from changetrail_api.webhooks import service
from changetrail_api.webhooks.schemas import (
    NewWebhookEnvelope,
    WebhookCreate,
    WebhookListEnvelope,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]


@router.post("", status_code=201)
async def create_webhook(
    body: WebhookCreate, principal: Admin, session: SessionDep
) -> NewWebhookEnvelope:
    """Create a webhook endpoint; its token is in this response only."""
    return NewWebhookEnvelope(data=await service.create(session, principal.org_id, body))


@router.get("")
async def list_webhooks(
    principal: Admin, session: SessionDep, page: PageDep
) -> WebhookListEnvelope:
    """List webhook endpoints (never their tokens or secrets)."""
    data, total = await service.list_endpoints(
        session, principal.org_id, limit=page.limit, offset=page.offset
    )
    return WebhookListEnvelope(data=data, meta=page.meta(total))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, principal: Admin, session: SessionDep) -> Response:
    """Delete a webhook endpoint; its token stops working at once."""
    await service.delete(session, principal.org_id, webhook_id)
    return Response(status_code=204)
