"""The timeline of changes and a change's own page."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import timedelta

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from changetrail_api.changes import service as changes_service
from changetrail_api.changes.filters import ChangeFilters
from changetrail_api.changes.schemas import ChangeOut
from changetrail_api.deps import SessionDep
from changetrail_api.domain import ChangeType, Outcome, RiskLevel
from changetrail_api.scopes import Scope
from changetrail_api.services.schemas import ServiceOut
from changetrail_api.web import catalogue, diffs, filters, present, timeline
from changetrail_api.web.rendering import render
from changetrail_api.web.routes.common import open_page, query_of, see_other

router = APIRouter()

RELATED_SPAN = timedelta(hours=1)
# Moments an incident's chart marks, by the names its URL gives them.
MARKERS = ("started", "resolved")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
RELATED_SHOWN = 50


@router.get("/ui")
async def timeline_page(request: Request, db: SessionDep) -> Response:
    page = await open_page(request, db, Scope.CHANGES_READ)
    query, canonical = filters.parse(query_of(request))
    if canonical:
        return see_other(page.links.to("/ui", query.params()))
    assert page.viewer is not None
    loaded = await timeline.load(db, page, query)
    services: list[ServiceOut] = []
    if page.viewer.can(Scope.SERVICES_READ):
        services, _ = await catalogue.services(db, page.viewer.principal)
    return render(
        page,
        "timeline.html",
        section="timeline",
        timeline=loaded,
        chart_params=query.params(),
        services=services,
        change_types=list(ChangeType),
        risk_levels=list(RiskLevel),
        outcomes=list(Outcome),
        windows=list(filters.WINDOWS),
        page_sizes=filters.PAGE_SIZES,
        default_page_size=filters.DEFAULT_PAGE_SIZE,
    )


@router.get("/ui/chart")
async def chart_page(request: Request, db: SessionDep) -> Response:
    """A view's chart: the fragment the pages fetch after their list, or a page of its own."""
    page = await open_page(request, db, Scope.CHANGES_READ)
    params = query_of(request)
    query, _ = filters.parse(params)
    path = "/ui"
    if params.get("within") == ["service"] and query.service_id and _ID.match(query.service_id):
        path = f"/ui/services/{query.service_id}"
    markers = []
    for name in MARKERS:
        raw = params.get(name, [""])[-1]
        if raw:
            try:
                markers.append((filters.instant(raw), name))
            except ValueError as exc:
                raise filters.FilterError([(name, str(exc))]) from None
    started = time.perf_counter()
    loaded = await timeline.load_chart(db, page, query, path=path, markers=markers)
    # What counting took, for the browser's network panel and the benchmark.
    timing = {"Server-Timing": f"histogram;dur={(time.perf_counter() - started) * 1000:.1f}"}
    if params.get("part") == ["1"]:
        return render(page, "_chart_part.html", headers=timing, timeline=loaded)
    return render(page, "chart.html", headers=timing, section="timeline", timeline=loaded)


@router.get("/ui/changes/{change_id}")
async def change_page(change_id: str, request: Request, db: SessionDep) -> Response:
    page = await open_page(request, db, Scope.CHANGES_READ)
    assert page.viewer is not None
    org_id = page.viewer.principal.org_id
    change = await changes_service.get(db, org_id, change_id)
    around = _related_filters(change)
    related = []
    if around is not None:
        nearby, _ = await changes_service.list_changes(
            db, org_id, around, limit=RELATED_SHOWN, offset=0
        )
        related = [present.row(c, page.zone, page.now) for c in nearby if c.id != change.id]
    cluster, namespace = present.kubernetes_place(change)
    return render(
        page,
        "change.html",
        section="timeline",
        change=change,
        row=present.row(change, page.zone, page.now),
        cluster=cluster,
        namespace=namespace,
        change_links=present.links(change),
        diff=diffs.diff_rows(change.details),
        facts=diffs.facts(change.details),
        related=related,
        related_query=_related_query(change),
    )


def _related_filters(change: ChangeOut) -> ChangeFilters | None:
    """The same service within an hour either side (by namespace when it has no service)."""
    start, end = change.created_at - RELATED_SPAN, change.created_at + RELATED_SPAN
    if change.service_id:
        return ChangeFilters(service_id=change.service_id, start=start, end=end)
    _, namespace = present.kubernetes_place(change)
    if namespace:
        return ChangeFilters(tags=(f"namespace:{namespace}",), start=start, end=end)
    return None


def _related_query(change: ChangeOut) -> list[tuple[str, str]]:
    view = filters.TimelineQuery(
        start=change.created_at - RELATED_SPAN, end=change.created_at + RELATED_SPAN
    )
    if change.service_id:
        view = replace(view, service_id=change.service_id)
    else:
        view = replace(view, namespace=present.kubernetes_place(change)[1])
    return view.params()
