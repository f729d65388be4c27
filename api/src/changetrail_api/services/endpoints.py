from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from changetrail_api.auth import Principal, require
from changetrail_api.deps import SessionDep
from changetrail_api.pagination import PageDep
from changetrail_api.scopes import Scope
from changetrail_api.services import service
from changetrail_api.services.schemas import (
    ServiceCreate,
    ServiceEnvelope,
    ServiceListEnvelope,
    ServiceUpdate,
)

router = APIRouter(prefix="/api/v1/services", tags=["services"])

CanRead = Annotated[Principal, Depends(require(Scope.SERVICES_READ))]
CanWrite = Annotated[Principal, Depends(require(Scope.SERVICES_WRITE))]


@router.post("", status_code=201)
async def create_service(
    body: ServiceCreate, principal: CanWrite, session: SessionDep
) -> ServiceEnvelope:
    """Create a service (name unique per organisation)."""
    return ServiceEnvelope(data=await service.create(session, principal.org_id, body))


@router.get("")
async def list_services(
    principal: CanRead,
    session: SessionDep,
    page: PageDep,
    name: Annotated[str | None, Query(max_length=200, description="Exact name")] = None,
    slug: Annotated[str | None, Query(max_length=200, description="Exact slug")] = None,
) -> ServiceListEnvelope:
    """List services by name."""
    data, total = await service.list_services(
        session, principal.org_id, name=name, slug=slug, limit=page.limit, offset=page.offset
    )
    return ServiceListEnvelope(data=data, meta=page.meta(total))


@router.get("/{service_id}")
async def get_service(service_id: str, principal: CanRead, session: SessionDep) -> ServiceEnvelope:
    """Get one service."""
    return ServiceEnvelope(
        data=service.to_out(await service.get(session, principal.org_id, service_id))
    )


@router.patch("/{service_id}")
async def update_service(
    service_id: str, body: ServiceUpdate, principal: CanWrite, session: SessionDep
) -> ServiceEnvelope:
    """Rename or re-describe a service."""
    return ServiceEnvelope(data=await service.update(session, principal.org_id, service_id, body))


@router.delete("/{service_id}", status_code=204)
async def delete_service(service_id: str, principal: CanWrite, session: SessionDep) -> Response:
    """Delete a service; its changes stay, without a service."""
    await service.delete(session, principal.org_id, service_id)
    return Response(status_code=204)
