"""Ranked suspects, for an incident or for a moment and a service without one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.incidents import service as incidents_service
from changetrail_api.incidents.schemas import SuspectOut

SHOWN = 25


@dataclass(frozen=True, slots=True)
class Ranking:
    suspects: list[SuspectOut]
    ranked: int
    candidates: int
    window_start: datetime
    window_end: datetime
    truncated: bool


async def _ranking(db: AsyncSession, found: incidents_service.Correlation, offset: int) -> Ranking:
    return Ranking(
        suspects=await incidents_service.suspects_out(db, found, offset, SHOWN),
        ranked=len(found.ranked),
        candidates=found.candidates,
        window_start=found.window_start,
        window_end=found.window_end,
        truncated=found.truncated,
    )


async def for_incident(db: AsyncSession, org_id: str, incident_id: str, offset: int) -> Ranking:
    return await _ranking(
        db, await incidents_service.correlate_incident(db, org_id, incident_id), offset
    )


async def before_moment(
    db: AsyncSession,
    org_id: str,
    at: datetime,
    service_ids: list[str],
    environment: str | None,
    before: timedelta,
    offset: int,
) -> Ranking:
    """ "What changed before…" without an incident: the ranking an incident then would get."""
    found = await incidents_service.correlate_moment(
        db, org_id, at, service_ids, environment=environment, before=before
    )
    return await _ranking(db, found, offset)
