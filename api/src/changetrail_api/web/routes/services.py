"""Services: the list with how often each deploys, and a page per service with its timeline."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from changetrail_api.deps import SessionDep
from changetrail_api.domain import ChangeType, Outcome, RiskLevel
from changetrail_api.scopes import Scope
from changetrail_api.services import service as services_service
from changetrail_api.web import catalogue, filters, frequency, timeline
from changetrail_api.web.filters import FilterError
from changetrail_api.web.rendering import render
from changetrail_api.web.routes.common import open_page, query_of, see_other

router = APIRouter()

SERVICES_PER_PAGE = 50


@router.get("/ui/services")
async def services_page(request: Request, db: SessionDep) -> Response:
    page = await open_page(request, db, Scope.SERVICES_READ)
    assert page.viewer is not None
    raw = request.query_params.get("offset", "0")
    if not raw.isdigit() or int(raw) > filters.MAX_OFFSET:
        raise FilterError([("offset", f"a whole number from 0 to {filters.MAX_OFFSET:,}")])
    offset = int(raw)
    listed, total = await catalogue.services(
        db, page.viewer.principal, limit=SERVICES_PER_PAGE, offset=offset
    )
    recent: dict[str, int | None] = {}
    for found in listed:
        recent[found.id] = (
            await frequency.recent_deployments(db, page.viewer.principal.org_id, found.id, page.now)
            if page.viewer.can(Scope.CHANGES_READ)
            else None
        )
    return render(
        page,
        "services.html",
        section="services",
        services=listed,
        recent=recent,
        total=total,
        offset=offset,
        per_page=SERVICES_PER_PAGE,
    )


@router.get("/ui/services/{service_id}")
async def service_page(service_id: str, request: Request, db: SessionDep) -> Response:
    page = await open_page(request, db, Scope.SERVICES_READ)
    assert page.viewer is not None
    org_id = page.viewer.principal.org_id
    found = services_service.to_out(await services_service.get(db, org_id, service_id))
    path = f"/ui/services/{found.id}"
    query, canonical = filters.parse(query_of(request))
    # The page is the service's own timeline: its service filter is not the URL's to change.
    query = replace(query, service_id=found.id)
    if canonical:
        return see_other(page.links.to(path, query.params(service_id=None)))
    loaded = None
    deploys = None
    if page.viewer.can(Scope.CHANGES_READ):
        loaded = await timeline.load(db, page, query, path=path)
        deploys = await frequency.deployments(db, org_id, found.id, page.zone, page.now)
    return render(
        page,
        "service.html",
        section="services",
        service=found,
        timeline=loaded,
        chart_params=[*query.params(), ("within", "service")],
        deploys=deploys,
        filters_open=replace(query, service_id=None).filtered,
        change_types=list(ChangeType),
        risk_levels=list(RiskLevel),
        outcomes=list(Outcome),
        windows=list(filters.WINDOWS),
        page_sizes=filters.PAGE_SIZES,
        default_page_size=filters.DEFAULT_PAGE_SIZE,
    )
