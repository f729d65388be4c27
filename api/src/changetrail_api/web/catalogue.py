"""The organisation's services, for the services page and the timeline's service filter."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.auth import Principal
from changetrail_api.scopes import Scope
from changetrail_api.services import service as services_service
from changetrail_api.services.schemas import ServiceOut

# A page of a select box; an organisation with more services filters by typing an id.
MAX_LISTED = 100


async def services(
    db: AsyncSession, principal: Principal, *, limit: int = MAX_LISTED, offset: int = 0
) -> tuple[list[ServiceOut], int]:
    """A page of services, by name; none for a key that may not read services."""
    if not principal.has(Scope.SERVICES_READ):
        return [], 0
    return await services_service.list_services(
        db, principal.org_id, name=None, slug=None, limit=limit, offset=offset
    )
