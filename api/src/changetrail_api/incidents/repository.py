"""All SQL about incidents, and the candidate changes read for correlation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, case, delete, exists, func, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.changes.models import Change, ChangeTag
from changetrail_api.incidents.filters import IncidentFilters as IncidentFilters
from changetrail_api.incidents.models import (
    AlertmanagerGroup,
    Incident,
    IncidentAlert,
    IncidentService,
)
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


async def take_alert_group(
    session: AsyncSession,
    *,
    org_id: str,
    group_id: str,
    endpoint_id: str,
    group_key: str,
    now: datetime,
) -> None:
    """Note a notification of the group, and hold the group until the transaction ends.

    The upsert is the transaction's first write: PostgreSQL locks the group's row, SQLite
    takes its write lock, so a concurrent notification of the same group waits here and
    then reads what this one stored.
    """
    statement = insert(session, AlertmanagerGroup).values(
        id=group_id,
        org_id=org_id,
        endpoint_id=endpoint_id,
        group_key=group_key,
        notifications=1,
        first_seen_at=now,
        last_seen_at=now,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[AlertmanagerGroup.id],
        set_={
            "notifications": AlertmanagerGroup.notifications + 1,
            "last_seen_at": statement.excluded.last_seen_at,
        },
    )
    await session.execute(statement)


# Fingerprints per query: well under every backend's limit on bound parameters.
_CHUNK = 500


async def holders_of(
    session: AsyncSession, org_id: str, group_id: str, firings: Sequence[tuple[str, datetime]]
) -> dict[tuple[str, datetime], str]:
    """Which incident holds each of these firings (fingerprint, start) of the group."""
    wanted = set(firings)
    if not wanted:
        return {}
    starts = [start for _, start in wanted]
    fingerprints = sorted({fingerprint for fingerprint, _ in wanted})
    found: dict[tuple[str, datetime], str] = {}
    for offset in range(0, len(fingerprints), _CHUNK):
        # By fingerprint and the span of starts, then exactly here: portable where row-value
        # IN lists are not.
        rows = await session.execute(
            select(
                IncidentAlert.fingerprint, IncidentAlert.starts_at, IncidentAlert.incident_id
            ).where(
                IncidentAlert.org_id == org_id,
                IncidentAlert.alert_group == group_id,
                IncidentAlert.fingerprint.in_(fingerprints[offset : offset + _CHUNK]),
                IncidentAlert.starts_at >= min(starts),
                IncidentAlert.starts_at <= max(starts),
            )
        )
        for fingerprint, starts_at, incident_id in rows.all():
            if (fingerprint, starts_at) in wanted:
                found[(fingerprint, starts_at)] = incident_id
    return found


async def hold_firings(
    session: AsyncSession,
    org_id: str,
    group_id: str,
    incident_id: str,
    firings: Sequence[tuple[str, datetime]],
) -> None:
    """Remember that these firings belong to the incident; ones another incident holds stay."""
    rows = [
        {
            "org_id": org_id,
            "alert_group": group_id,
            "fingerprint": fingerprint,
            "starts_at": starts_at,
            "incident_id": incident_id,
        }
        for fingerprint, starts_at in dict.fromkeys(firings)
    ]
    for offset in range(0, len(rows), _CHUNK):
        await session.execute(
            insert(session, IncidentAlert)
            .values(rows[offset : offset + _CHUNK])
            .on_conflict_do_nothing()
        )


async def alert_group_incidents(
    session: AsyncSession,
    org_id: str,
    source: str,
    *,
    group_id: str,
    external_id: str,
    incident_ids: Sequence[str],
) -> list[Incident]:
    """The incidents a notification of the group may belong to.

    Those holding its firings, the one its opening would have created (the external_id of
    an incident recorded before firings were kept) and the group's open incident.
    """
    conditions: list[ColumnElement[bool]] = [
        Incident.open_group == group_id,
        Incident.external_id == external_id,
    ]
    if incident_ids:
        conditions.append(Incident.id.in_(incident_ids))
    statement = select(Incident).where(
        Incident.org_id == org_id, Incident.source == source, or_(*conditions)
    )
    return list((await session.execute(statement)).scalars().all())


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
    # How a rollout ended: a failed one is a stronger suspect (correlation's risk factor).
    Change.outcome,
)


def _details_key(key: str, dialect: str) -> ColumnElement[Any]:
    """``details[key]``, labelled ``details_<key>``. SQLite keeps JSON as text, and its JSON
    functions fail the whole query over one row that is not JSON (stored before json_safety):
    such a row reads as having no such key instead."""
    extracted: ColumnElement[Any] = Change.details[key]
    if dialect == "sqlite":
        extracted = case((func.json_valid(Change.details) == 1, extracted), else_=null())
    return extracted.label(f"details_{key}")


async def _newest(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], limit: int
) -> tuple[list[Row[Any]], bool]:
    """Up to ``limit`` matching changes, newest first, and whether more matched."""
    dialect = session.get_bind().dialect.name
    statement = (
        select(
            *_CANDIDATE_COLUMNS,
            _details_key("kubernetes", dialect),
            _details_key("consumers", dialect),
        )
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
