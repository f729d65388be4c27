"""Incidents, their ranked suspects, and "what changed before…" without an incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from changetrail_api.deps import SessionDep
from changetrail_api.incidents import service as incidents_service
from changetrail_api.incidents.filters import IncidentFilters
from changetrail_api.incidents.schemas import Severity
from changetrail_api.scopes import Scope
from changetrail_api.services.schemas import ServiceOut
from changetrail_api.web import catalogue, filters, suspects, timeline, zones
from changetrail_api.web.filters import FilterError, TimelineQuery
from changetrail_api.web.rendering import render
from changetrail_api.web.routes.common import open_page, query_of, see_other

router = APIRouter()

INCIDENTS_PER_PAGE = 25
LOOKBACKS = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "3d": timedelta(days=3),
    "7d": timedelta(days=7),
}
DEFAULT_LOOKBACK = "24h"
# Correlation looks back up to a week from the moment: keep it far from the calendar's ends.
EARLIEST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = [v.strip() for v in params.get(name, ()) if v.strip()]
    return values[-1] if values else None


def _offset(params: dict[str, list[str]], problems: list[tuple[str, str]]) -> int:
    raw = _one(params, "offset")
    if raw is None:
        return 0
    if raw.isdigit() and int(raw) <= filters.MAX_OFFSET:
        return int(raw)
    problems.append(("offset", f"a whole number from 0 to {filters.MAX_OFFSET:,}"))
    return 0


def incident_filters(params: dict[str, list[str]]) -> tuple[IncidentFilters, int]:
    problems = filters.control_character_problems(params)
    status = _one(params, "status")
    if status is not None and status not in ("open", "resolved"):
        problems.append(("status", "open or resolved"))
    severity = _one(params, "severity")
    if severity is not None and severity not in Severity.__members__.values():
        problems.append(("severity", "one of " + ", ".join(s.value for s in Severity)))
    environment = _one(params, "environment")
    if environment is not None and len(environment) > 100:
        problems.append(("environment", "at most 100 characters"))
    service_id = _one(params, "service_id")
    if service_id is not None and len(service_id) > 40:
        problems.append(("service_id", "at most 40 characters"))
    offset = _offset(params, problems)
    if problems:
        raise FilterError(problems)
    return (
        IncidentFilters(
            status=status, severity=severity, environment=environment, service_id=service_id
        ),
        offset,
    )


@router.get("/ui/incidents")
async def incidents_page(request: Request, db: SessionDep) -> Response:
    page = await open_page(request, db, Scope.INCIDENTS_READ)
    assert page.viewer is not None
    params = query_of(request)
    chosen, offset = incident_filters(params)
    found, total = await incidents_service.list_incidents(
        db, page.viewer.principal.org_id, chosen, limit=INCIDENTS_PER_PAGE, offset=offset
    )
    kept = [(k, v) for k, vs in params.items() if k != "offset" for v in vs if v.strip()]
    return render(
        page,
        "incidents.html",
        section="incidents",
        incidents=found,
        total=total,
        chosen=chosen,
        severities=list(Severity),
        offset=offset,
        per_page=INCIDENTS_PER_PAGE,
        kept=kept,
    )


@router.get("/ui/incidents/{incident_id}")
async def incident_page(incident_id: str, request: Request, db: SessionDep) -> Response:
    page = await open_page(request, db, Scope.INCIDENTS_READ)
    assert page.viewer is not None
    org_id = page.viewer.principal.org_id
    problems: list[tuple[str, str]] = []
    offset = _offset(query_of(request), problems)
    if problems:
        raise FilterError(problems)
    incident = await incidents_service.with_suspects(
        db, await incidents_service.find(db, org_id, incident_id)
    )
    ranking = await suspects.for_incident(db, org_id, incident_id, offset)
    window = None
    chart_params: list[tuple[str, str]] = []
    if page.viewer.can(Scope.CHANGES_READ):
        only_service = incident.service_ids[0] if len(incident.service_ids) == 1 else None
        view = TimelineQuery(
            service_id=only_service,
            start=ranking.window_start,
            end=ranking.window_end,
            now=page.now,
        )
        markers = [("started", zones.iso_utc(incident.started_at))]
        if incident.resolved_at is not None:
            markers.append(("resolved", zones.iso_utc(incident.resolved_at)))
        chart_params = [*view.params(), *markers]
        window = await timeline.load(db, page, view)
    return render(
        page,
        "incident.html",
        section="incidents",
        incident=incident,
        ranking=ranking,
        offset=offset,
        shown=suspects.SHOWN,
        window=window,
        chart_params=chart_params,
    )


@router.get("/ui/what-changed")
async def what_changed_page(request: Request, db: SessionDep) -> Response:
    page = await open_page(request, db, Scope.CHANGES_READ)
    assert page.viewer is not None
    params = query_of(request)
    problems = filters.control_character_problems(params)
    zone_name = _one(params, "tz")
    at_raw = _one(params, "at")
    at: datetime | None = None
    if at_raw is not None:
        try:
            at = filters.instant(at_raw, zones.zone_named(zone_name) if zone_name else None)
        except ValueError as exc:
            problems.append(("at", str(exc)))
        else:
            if not EARLIEST_MOMENT <= at <= datetime.now(UTC) + timedelta(days=366):
                problems.append(("at", "a moment between the year 2000 and a year from now"))
    service_id = _one(params, "service_id")
    if service_id is not None and len(service_id) > 40:
        problems.append(("service_id", "at most 40 characters"))
    environment = _one(params, "environment")
    if environment is not None and len(environment) > 100:
        problems.append(("environment", "at most 100 characters"))
    lookback = _one(params, "before") or DEFAULT_LOOKBACK
    if lookback not in LOOKBACKS:
        problems.append(("before", "one of " + ", ".join(LOOKBACKS)))
    offset = _offset(params, problems)
    if problems:
        raise FilterError(problems)
    if zone_name is not None and at is not None:
        # The form sent wall time and the browser's zone: share the unambiguous URL instead.
        canonical = [("at", zones.iso_utc(at))]
        canonical += [
            (k, v) for k, v in (("service_id", service_id), ("environment", environment)) if v
        ]
        if lookback != DEFAULT_LOOKBACK:
            canonical.append(("before", lookback))
        return see_other(page.links.to("/ui/what-changed", canonical))
    services: list[ServiceOut] = []
    if page.viewer.can(Scope.SERVICES_READ):
        services, _ = await catalogue.services(db, page.viewer.principal)
    ranking = None
    if at is not None:
        ranking = await suspects.before_moment(
            db,
            page.viewer.principal.org_id,
            at,
            [service_id] if service_id else [],
            environment,
            LOOKBACKS[lookback],
            offset,
        )
    kept = [(k, v) for k, vs in params.items() if k != "offset" for v in vs if v.strip()]
    return render(
        page,
        "what_changed.html",
        section="what-changed",
        at=at,
        at_local=(at or page.now).astimezone(page.zone).strftime("%Y-%m-%dT%H:%M"),
        service_id=service_id,
        environment=environment,
        lookback=lookback,
        lookbacks=list(LOOKBACKS),
        services=services,
        ranking=ranking,
        offset=offset,
        shown=suspects.SHOWN,
        kept=kept,
    )
