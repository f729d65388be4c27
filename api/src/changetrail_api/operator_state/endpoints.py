"""The operator's private memory of what it last recorded, so restarts diff instead of guess.

Keyset pagination (``after``) because the operator reads everything back at start-up, and deep
offsets over thousands of objects would grow slower page by page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from changetrail_api.auth import Principal, require
from changetrail_api.deps import SessionDep
from changetrail_api.errors import FieldError
from changetrail_api.operator_state import service
from changetrail_api.operator_state.schemas import ObjectStateBatch, ObjectStatePage, StoredEnvelope
from changetrail_api.scopes import Scope

router = APIRouter(prefix="/api/v1/operator/objects", tags=["operator"])

Operator = Annotated[Principal, Depends(require(Scope.OPERATOR))]


def _cursor(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    kind, sep, uid = value.partition("/")
    if not sep or not kind or not uid:
        raise FieldError("after", "expected the next_after value of a previous page")
    return kind, uid


@router.get("")
async def list_objects(
    principal: Operator,
    session: SessionDep,
    cluster: Annotated[str, Query(min_length=1, max_length=100)],
    kind: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> ObjectStatePage:
    """Read back remembered object states, in pages."""
    return await service.page(
        session, principal.org_id, cluster, kind=kind, after=_cursor(after), limit=limit
    )


@router.put("")
async def store_objects(
    body: ObjectStateBatch, principal: Operator, session: SessionDep
) -> StoredEnvelope:
    """Remember object states (upsert, up to 500 at once)."""
    return StoredEnvelope(data={"stored": await service.store(session, principal.org_id, body)})


@router.delete("/{cluster}/{kind}/{uid}", status_code=204)
async def forget_object(
    cluster: str, kind: str, uid: str, principal: Operator, session: SessionDep
) -> Response:
    """Forget a deleted object."""
    await service.forget(session, principal.org_id, cluster, kind, uid)
    return Response(status_code=204)
