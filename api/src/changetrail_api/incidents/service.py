"""Recording, reading and correlating incidents. Never commits: the request's session does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import new_id, utcnow_ms
from changetrail_api.changes.service import to_out as change_out
from changetrail_api.correlation import (
    CandidateChange,
    IncidentFacts,
    ServiceProfile,
    Suspect,
    kubernetes_ref,
    rank,
)
from changetrail_api.errors import FieldError, NotFoundError
from changetrail_api.incidents import repository
from changetrail_api.incidents.filters import IncidentFilters
from changetrail_api.incidents.models import Incident
from changetrail_api.incidents.schemas import (
    IncidentCreate,
    IncidentOut,
    IncidentUpdate,
    ServiceRef,
    SuspectOut,
)
from changetrail_api.services.models import Service
from changetrail_api.timefmt import shift

DEFAULT_BEFORE = timedelta(hours=24)
DEFAULT_AFTER = timedelta(hours=1)
# How many suspects an incident's own response embeds.
EMBEDDED_SUSPECTS = 3


def to_out(
    incident: Incident,
    services: Sequence[tuple[str, str]],
    suspects: list[SuspectOut] | None = None,
) -> IncidentOut:
    return IncidentOut(
        id=incident.id,
        title=incident.title,
        status="open" if incident.resolved_at is None else "resolved",
        severity=incident.severity,
        environment=incident.environment,
        service_ids=[service_id for service_id, _ in services],
        services=[ServiceRef(id=service_id, name=name) for service_id, name in services],
        source=incident.source,
        external_id=incident.external_id,
        details=incident.details,
        started_at=incident.started_at,
        resolved_at=incident.resolved_at,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
        suspects=suspects,
    )


async def check_services(session: AsyncSession, org_id: str, service_ids: Sequence[str]) -> None:
    known = await repository.services_by_id(session, org_id, service_ids)
    missing = [service_id for service_id in service_ids if service_id not in known]
    if missing:
        # A foreign organisation's service reads exactly like one that does not exist.
        raise FieldError("service_ids", f"no service {missing[0]!r} in this organisation")


async def create(
    session: AsyncSession, org_id: str, body: IncidentCreate
) -> tuple[IncidentOut, bool]:
    """Store an incident unless its ``external_id`` is known; returns it and whether it is new."""
    await check_services(session, org_id, body.service_ids)
    now = utcnow_ms()
    values: dict[str, Any] = {
        "id": new_id("inc"),
        "org_id": org_id,
        "title": body.title,
        "severity": str(body.severity),
        "environment": body.environment,
        "source": body.source,
        "external_id": body.external_id,
        "open_group": None,
        "details": None,
        "started_at": body.started_at,
        "resolved_at": body.resolved_at,
        "created_at": now,
        "updated_at": now,
    }
    if await repository.insert_if_new(session, values):
        await repository.set_services(session, org_id, values["id"], body.service_ids)
        return await with_suspects(session, Incident(**values)), True
    assert body.external_id is not None  # without one, nothing can conflict
    existing = await repository.find_by_external_id(session, org_id, body.source, body.external_id)
    if existing is None:
        raise FieldError("external_id", "conflicts with an existing incident")
    return await with_suspects(session, existing), False


async def find(session: AsyncSession, org_id: str, incident_id: str) -> Incident:
    incident = await repository.get(session, org_id, incident_id)
    if incident is None:
        raise NotFoundError("incident", incident_id)
    return incident


async def list_incidents(
    session: AsyncSession, org_id: str, filters: IncidentFilters, *, limit: int, offset: int
) -> tuple[list[IncidentOut], int]:
    rows = await repository.page(session, org_id, filters, limit=limit, offset=offset)
    if offset == 0 and len(rows) < limit:
        total = len(rows)
    else:
        total = await repository.count(session, org_id, filters)
    services = await repository.services_of(session, [row.id for row in rows])
    return [to_out(row, services[row.id]) for row in rows], total


async def update(
    session: AsyncSession, org_id: str, incident_id: str, body: IncidentUpdate
) -> IncidentOut:
    incident = await find(session, org_id, incident_id)
    sent = body.model_fields_set
    started_at = body.started_at if body.started_at is not None else incident.started_at
    resolved_at = body.resolved_at if "resolved_at" in sent else incident.resolved_at
    if resolved_at is not None and resolved_at < started_at:
        raise FieldError("resolved_at", "must not be before started_at")
    if body.service_ids is not None:
        await check_services(session, org_id, body.service_ids)
        await repository.set_services(session, org_id, incident.id, body.service_ids)
    if body.title is not None:
        incident.title = body.title
    if body.severity is not None:
        incident.severity = str(body.severity)
    if "environment" in sent:
        incident.environment = body.environment
    incident.started_at, incident.resolved_at = started_at, resolved_at
    if resolved_at is not None:
        # Closed by hand: the next firing of its alert group opens a new incident.
        incident.open_group = None
    incident.updated_at = utcnow_ms()
    await session.flush()
    return await with_suspects(session, incident)


@dataclass(frozen=True, slots=True)
class Correlation:
    """An incident's candidate changes, scored and ranked (most suspicious first)."""

    incident: Incident
    ranked: list[Suspect]
    candidates: int
    window_start: datetime
    window_end: datetime
    truncated: bool


def service_profile(service: Service) -> ServiceProfile:
    mapping = service.kubernetes or {}
    return ServiceProfile(
        id=service.id,
        names=frozenset({service.name, service.slug}),
        namespaces=frozenset(str(n) for n in mapping.get("namespaces") or ()),
        workloads=frozenset(str(w) for w in mapping.get("workloads") or ()),
    )


def candidate(change: Row[Any]) -> CandidateChange:
    """Scoring facts from a row of ``repository.candidate_changes``."""
    return CandidateChange(
        id=change.id,
        change_type=change.change_type,
        risk_level=change.risk_level,
        occurred_at=change.occurred_at,
        ended_at=change.ended_at,
        service_id=change.service_id,
        environment=change.environment,
        kubernetes=kubernetes_ref(
            {"kubernetes": change.details_kubernetes, "consumers": change.details_consumers},
            change.tags or (),
        ),
        outcome=change.outcome,
    )


async def correlate(
    session: AsyncSession,
    incident: Incident,
    service_ids: Sequence[str],
    *,
    before: timedelta = DEFAULT_BEFORE,
    after: timedelta = DEFAULT_AFTER,
    min_score: float = 0.0,
) -> Correlation:
    """The changes around the incident's start, ranked by the pure score."""
    services = await repository.services_by_id(session, incident.org_id, service_ids)
    profiles = tuple(service_profile(services[s]) for s in service_ids if s in services)
    namespaces = sorted({ns for profile in profiles for ns in profile.namespaces})
    # Held at the ends of the calendar: an incident recorded near them still correlates.
    window_start = shift(incident.started_at, -before)
    window_end = shift(incident.started_at, after)
    rows, truncated = await repository.candidate_changes(
        session,
        incident.org_id,
        start=window_start,
        end=window_end,
        service_ids=[profile.id for profile in profiles],
        namespace_tags=[f"namespace:{ns}" for ns in namespaces],
    )
    facts = IncidentFacts(
        started_at=incident.started_at, services=profiles, environment=incident.environment
    )
    ranked = [
        suspect
        for suspect in rank(facts, [candidate(row) for row in rows])
        if suspect.score >= min_score
    ]
    return Correlation(incident, ranked, len(rows), window_start, window_end, truncated)


async def correlate_incident(
    session: AsyncSession,
    org_id: str,
    incident_id: str,
    *,
    before: timedelta = DEFAULT_BEFORE,
    after: timedelta = DEFAULT_AFTER,
    min_score: float = 0.0,
) -> Correlation:
    incident = await find(session, org_id, incident_id)
    services = (await repository.services_of(session, [incident.id]))[incident.id]
    return await correlate(
        session,
        incident,
        [service_id for service_id, _ in services],
        before=before,
        after=after,
        min_score=min_score,
    )


async def suspects_out(
    session: AsyncSession, found: Correlation, offset: int = 0, limit: int | None = None
) -> list[SuspectOut]:
    """A slice of the ranking as responses show it; only that slice is loaded whole."""
    page = found.ranked[offset : None if limit is None else offset + limit]
    rows = await repository.changes_by_id(
        session, found.incident.org_id, [suspect.change_id for suspect in page]
    )
    return [
        SuspectOut(
            **change_out(*rows[suspect.change_id]).model_dump(),
            score=suspect.score,
            reasons=list(suspect.reasons),
        )
        for suspect in page
        if suspect.change_id in rows
    ]


async def with_suspects(session: AsyncSession, incident: Incident) -> IncidentOut:
    """The incident as one response shows it: with its services and its top suspects."""
    services = (await repository.services_of(session, [incident.id]))[incident.id]
    found = await correlate(session, incident, [service_id for service_id, _ in services])
    return to_out(incident, services, await suspects_out(session, found, 0, EMBEDDED_SUSPECTS))


async def correlate_moment(
    session: AsyncSession,
    org_id: str,
    at: datetime,
    service_ids: Sequence[str],
    *,
    environment: str | None = None,
    before: timedelta = DEFAULT_BEFORE,
    after: timedelta = DEFAULT_AFTER,
) -> Correlation:
    """What changed around ``at`` on these services, ranked as for an incident starting then.

    "What changed before…" asked without an incident. The ranking is an incident's, so it
    names one: a transient incident that is never added to the session, so nothing is stored.
    """
    moment = Incident(
        id="inc_adhoc",
        org_id=org_id,
        title="what changed before",
        severity="medium",
        environment=environment,
        source="adhoc",
        started_at=at,
    )
    return await correlate(session, moment, service_ids, before=before, after=after)
