"""All SQL about incidents, and the candidate changes read for correlation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, case, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.changes.models import Change, ChangeTag
from changetrail_api.incidents.filters import IncidentFilters as IncidentFilters
from changetrail_api.incidents.models import Incident, IncidentService
from changetrail_api.services.models import Service
from changetrail_api.upsert import insert

# How many changes correlation reads per query. Ranked in memory, so this bounds the work of one
# request; the queries take the changes closest to the window's end first.
MAX_CANDIDATES = 500


async def insert_if_new(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert unless a uniqueness constraint says it exists; True when inserted."""
    statement = (
        insert(session, Incident).values(**values).on_conflict_do_nothing().returning(Incident.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def set_services(
    session: AsyncSession, org_id: str, incident_id: str, service_ids: Sequence[str]
) -> None:
    await session.execute(delete(IncidentService).where(IncidentService.incident_id == incident_id))
    if service_ids:
        await session.execute(
            insert(session, IncidentService).values(
                [
                    {
                        "incident_id": incident_id,
                        "service_id": service_id,
                        "org_id": org_id,
                        "position": position,
                    }
                    for position, service_id in enumerate(service_ids)
                ]
            )
        )


async def get(session: AsyncSession, org_id: str, incident_id: str) -> Incident | None:
    return (
        await session.execute(
            select(Incident).where(Incident.org_id == org_id, Incident.id == incident_id)
        )
    ).scalar_one_or_none()


async def find_by_external_id(
    session: AsyncSession, org_id: str, source: str, external_id: str
) -> Incident | None:
    return (
        await session.execute(
            select(Incident).where(
                Incident.org_id == org_id,
                Incident.source == source,
                Incident.external_id == external_id,
            )
        )
    ).scalar_one_or_none()


async def find_for_group(
    session: AsyncSession, org_id: str, source: str, open_group: str, external_id: str
) -> Incident | None:
    """The incident of this very episode if known, else the group's open incident.

    The episode comes first: a late redelivery of an earlier episode must land on that
    episode's incident, not on the one the group has opened since.
    """
    statement = (
        select(Incident)
        .where(
            Incident.org_id == org_id,
            Incident.source == source,
            or_(Incident.open_group == open_group, Incident.external_id == external_id),
        )
        .order_by(case((Incident.external_id == external_id, 0), else_=1))
        .limit(1)
    )
    return (await session.execute(statement)).scalars().first()


async def services_of(
    session: AsyncSession, incident_ids: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    """(service id, name) per incident, in the order the reporter gave them."""
    found: dict[str, list[tuple[str, str]]] = {incident_id: [] for incident_id in incident_ids}
    if not incident_ids:
        return found
    rows = await session.execute(
        select(IncidentService.incident_id, Service.id, Service.name)
        .join(Service, Service.id == IncidentService.service_id)
        .where(IncidentService.incident_id.in_(incident_ids))
        .order_by(IncidentService.incident_id, IncidentService.position)
    )
    for incident_id, service_id, name in rows.all():
        found[incident_id].append((service_id, name))
    return found


async def services_by_id(
    session: AsyncSession, org_id: str, service_ids: Sequence[str]
) -> dict[str, Service]:
    if not service_ids:
        return {}
    rows = await session.execute(
        select(Service).where(Service.org_id == org_id, Service.id.in_(service_ids))
    )
    return {service.id: service for service in rows.scalars().all()}


def _conditions(org_id: str, filters: IncidentFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Incident.org_id == org_id]
    for column in ("severity", "environment", "source", "external_id"):
        value = getattr(filters, column)
        if value is not None:
            conditions.append(getattr(Incident, column) == value)
    if filters.status == "open":
        conditions.append(Incident.resolved_at.is_(None))
    elif filters.status == "resolved":
        conditions.append(Incident.resolved_at.is_not(None))
    if filters.start is not None:
        conditions.append(Incident.started_at >= filters.start)
    if filters.end is not None:
        conditions.append(Incident.started_at < filters.end)
    if filters.service_id is not None:
        conditions.append(
            exists().where(
                IncidentService.org_id == org_id,
                IncidentService.service_id == filters.service_id,
                IncidentService.incident_id == Incident.id,
            )
        )
    return conditions


async def page(
    session: AsyncSession, org_id: str, filters: IncidentFilters, *, limit: int, offset: int
) -> list[Incident]:
    statement = (
        select(Incident)
        .where(*_conditions(org_id, filters))
        .order_by(Incident.started_at.desc(), Incident.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await session.execute(statement)).scalars().all())


async def count(session: AsyncSession, org_id: str, filters: IncidentFilters) -> int:
    statement = select(func.count()).select_from(Incident).where(*_conditions(org_id, filters))
    return int((await session.execute(statement)).scalar_one())


# Only what scoring reads: loading full ORM rows for hundreds of candidates costs more than
# scoring them; the few changes a response shows are loaded whole by ``changes_by_id``. Of
# ``details`` only the two small keys that link a change to workloads: its field-level diff
# can be tens of kilobytes per change.
_CANDIDATE_COLUMNS = (
    Change.id,
    Change.change_type,
    Change.risk_level,
    Change.occurred_at,
    Change.ended_at,
    Change.service_id,
    Change.environment,
    Change.tags,
    Change.details["kubernetes"].label("details_kubernetes"),
    Change.details["consumers"].label("details_consumers"),
)


async def _newest(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], limit: int
) -> tuple[list[Row[Any]], bool]:
    """Up to ``limit`` matching changes, newest first, and whether more matched."""
    statement = (
        select(*_CANDIDATE_COLUMNS)
        .where(*conditions)
        .order_by(Change.occurred_at.desc(), Change.id.desc())
        .limit(limit + 1)
    )
    rows = list((await session.execute(statement)).all())
    return rows[:limit], len(rows) > limit


async def candidate_changes(
    session: AsyncSession,
    org_id: str,
    *,
    start: datetime,
    end: datetime,
    service_ids: Sequence[str] = (),
    namespace_tags: Sequence[str] = (),
    limit: int | None = None,
) -> tuple[list[Row[Any]], bool]:
    """Scoring columns of the changes in [start, end); True when some were left unread.

    One bounded read of the whole organisation, newest first. When the window holds more than
    it reads, the oldest part is read again twice, narrowed to the incident's services and to
    their namespaces (also bounded): on a busy day unrelated changes would otherwise crowd the
    incident's own services out of their own correlation.
    """
    limit = limit or MAX_CANDIDATES
    in_window = [Change.org_id == org_id, Change.occurred_at >= start, Change.occurred_at < end]
    rows, truncated = await _newest(session, in_window, limit)
    if not truncated:
        return rows, False
    # Everything newer than the last row read is in already; ties at the boundary are
    # deduplicated below.
    older = [*in_window, Change.occurred_at <= rows[-1].occurred_at]
    narrowings: list[ColumnElement[bool]] = []
    if service_ids:
        narrowings.append(Change.service_id.in_(service_ids))
    if namespace_tags:
        narrowings.append(
            exists().where(
                ChangeTag.org_id == org_id,
                ChangeTag.change_id == Change.id,
                ChangeTag.tag.in_(namespace_tags),
            )
        )
    found = {row.id: row for row in rows}
    for narrowing in narrowings:
        narrowed, _ = await _newest(session, [*older, narrowing], limit)
        for row in narrowed:
            found.setdefault(row.id, row)
    return list(found.values()), True


async def changes_by_id(
    session: AsyncSession, org_id: str, change_ids: Sequence[str]
) -> dict[str, tuple[Change, str | None]]:
    """Whole changes with their service names, for the suspects a response shows."""
    if not change_ids:
        return {}
    rows = await session.execute(
        select(Change, Service.name)
        .outerjoin(Service, Service.id == Change.service_id)
        .where(Change.org_id == org_id, Change.id.in_(change_ids))
    )
    return {change.id: (change, name) for change, name in rows.all()}
