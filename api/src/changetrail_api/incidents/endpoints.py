from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from changetrail_api.auth import Principal, require
from changetrail_api.deps import SessionDep
from changetrail_api.incidents import service
from changetrail_api.incidents.filters import IncidentFilters
from changetrail_api.incidents.schemas import (
    CorrelationMeta,
    IncidentCreate,
    IncidentEnvelope,
    IncidentListEnvelope,
    IncidentUpdate,
    Severity,
    SuspectListEnvelope,
)
from changetrail_api.pagination import PageDep
from changetrail_api.scopes import Scope
from changetrail_api.timefmt import query_instant

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

CanRead = Annotated[Principal, Depends(require(Scope.INCIDENTS_READ))]
CanWrite = Annotated[Principal, Depends(require(Scope.INCIDENTS_WRITE))]

_CREATED: dict[int | str, dict[str, Any]] = {
    201: {"description": "Recorded"},
    200: {"description": "Already recorded (same source and external_id)"},
}


async def _filters(  # async: no worker-thread hop (see pagination._page)
    status: Annotated[Literal["open", "resolved"] | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    environment: Annotated[str | None, Query(max_length=100)] = None,
    service_id: Annotated[
        str | None, Query(max_length=40, description="Incidents affecting this service")
    ] = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
    external_id: Annotated[str | None, Query(max_length=255)] = None,
    start_date: Annotated[
        str | None, Query(description="Started at or after this time (ISO 8601)")
    ] = None,
    end_date: Annotated[
        str | None, Query(description="Started before this time (ISO 8601)")
    ] = None,
) -> IncidentFilters:
    return IncidentFilters(
        status=status,
        severity=str(severity) if severity else None,
        environment=environment,
        service_id=service_id,
        source=source,
        external_id=external_id,
        start=query_instant("start_date", start_date),
        end=query_instant("end_date", end_date),
    )


FiltersDep = Annotated[IncidentFilters, Depends(_filters)]


@router.post("", status_code=201, responses=_CREATED)
async def create_incident(
    body: IncidentCreate, principal: CanWrite, session: SessionDep, response: Response
) -> IncidentEnvelope:
    """Record an incident."""
    incident, created = await service.create(session, principal.org_id, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return IncidentEnvelope(data=incident)


@router.get("")
async def list_incidents(
    principal: CanRead, session: SessionDep, filters: FiltersDep, page: PageDep
) -> IncidentListEnvelope:
    """List incidents with filters, most recently started first."""
    data, total = await service.list_incidents(
        session, principal.org_id, filters, limit=page.limit, offset=page.offset
    )
    return IncidentListEnvelope(data=data, meta=page.meta(total))


@router.get("/{incident_id}")
async def get_incident(
    incident_id: str, principal: CanRead, session: SessionDep
) -> IncidentEnvelope:
    """Get one incident with its top suspect changes."""
    incident = await service.find(session, principal.org_id, incident_id)
    return IncidentEnvelope(data=await service.with_suspects(session, incident))


@router.patch("/{incident_id}")
async def update_incident(
    incident_id: str, body: IncidentUpdate, principal: CanWrite, session: SessionDep
) -> IncidentEnvelope:
    """Update an incident; set resolved_at to resolve it, null to reopen it."""
    return IncidentEnvelope(data=await service.update(session, principal.org_id, incident_id, body))


@router.get("/{incident_id}/changes")
async def list_suspect_changes(
    incident_id: str,
    principal: CanRead,
    session: SessionDep,
    page: PageDep,
    before_minutes: Annotated[
        int, Query(ge=0, le=30 * 24 * 60, description="Window start, minutes before the start")
    ] = int(service.DEFAULT_BEFORE.total_seconds() // 60),
    after_minutes: Annotated[
        int, Query(ge=0, le=7 * 24 * 60, description="Window end, minutes after the start")
    ] = int(service.DEFAULT_AFTER.total_seconds() // 60),
    min_score: Annotated[float, Query(ge=0, le=1, description="Leave out lower scores")] = 0.0,
) -> SuspectListEnvelope:
    """Changes that plausibly caused the incident, most suspicious first, with reasons."""
    found = await service.correlate_incident(
        session,
        principal.org_id,
        incident_id,
        before=timedelta(minutes=before_minutes),
        after=timedelta(minutes=after_minutes),
        min_score=min_score,
    )
    total = len(found.ranked)
    meta = page.meta(total)
    return SuspectListEnvelope(
        data=await service.suspects_out(session, found, page.offset, page.limit),
        meta=CorrelationMeta(
            **meta.model_dump(),
            window_start=found.window_start,
            window_end=found.window_end,
            candidates=found.candidates,
            truncated=found.truncated,
        ),
    )
