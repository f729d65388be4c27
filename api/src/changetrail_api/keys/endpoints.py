from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from changetrail_api.auth import Principal, require
from changetrail_api.deps import SessionDep
from changetrail_api.keys import service
from changetrail_api.keys.schemas import ApiKeyCreate, ApiKeyListEnvelope, NewApiKeyEnvelope
from changetrail_api.pagination import PageDep
from changetrail_api.scopes import Scope

router = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"])

Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]


@router.post("", status_code=201)
async def create_api_key(
    body: ApiKeyCreate, principal: Admin, session: SessionDep
) -> NewApiKeyEnvelope:
    """Create an API key; the key is in this response only."""
    key = await service.issue(session, principal.org_id, body.name, [str(s) for s in body.scopes])
    return NewApiKeyEnvelope(data=key)


@router.get("")
async def list_api_keys(principal: Admin, session: SessionDep, page: PageDep) -> ApiKeyListEnvelope:
    """List API keys (never the keys themselves)."""
    data, total = await service.list_keys(
        session, principal.org_id, limit=page.limit, offset=page.offset
    )
    return ApiKeyListEnvelope(data=data, meta=page.meta(total))


@router.delete("/{key_id}", status_code=204)
async def revoke_api_key(
    key_id: str, principal: Admin, session: SessionDep, request: Request
) -> Response:
    """Revoke an API key; it stops working at once."""
    await service.revoke(session, principal.org_id, key_id)
    request.app.state.key_cache.evict_key(key_id)
    return Response(status_code=204)
