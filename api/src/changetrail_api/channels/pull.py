"""Grafana, pull: changes as annotations, for Grafana's Infinity data source.

An annotation query on a dashboard asks ``GET /api/v1/annotations/grafana`` with the
dashboard's time range (``from``/``to`` as Grafana's ``${__from}``/``${__to}`` give them, epoch
milliseconds; ISO 8601 works too) and the same filters as the changes list; Infinity sends the
API key as a header. docs/grafana.md provisions the data source and the dashboard query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from changetrail_api.auth import Principal, require
from changetrail_api.changes import service as changes_service
from changetrail_api.changes.filters import ChangeFilters
from changetrail_api.channels.payloads.common import Context
from changetrail_api.channels.payloads.grafana import annotation
from changetrail_api.channels.schemas import AnnotationListEnvelope, AnnotationOut
from changetrail_api.deps import SessionDep, SettingsDep
from changetrail_api.domain import ChangeType, RiskLevel
from changetrail_api.errors import FieldError
from changetrail_api.pagination import ListMeta
from changetrail_api.scopes import Scope
from changetrail_api.services import service as services_service
from changetrail_api.timefmt import query_instant

router = APIRouter(tags=["channels"])

CanRead = Annotated[Principal, Depends(require(Scope.CHANGES_READ))]
# Epoch milliseconds Grafana can send: 0001-01-01 to 9999-12-31.
_MS_RANGE = (-62135596800000, 253402300799999)


def _instant(name: str, value: str | None) -> datetime | None:
    """Epoch milliseconds (Grafana's ``${__from}``) or an ISO 8601 date-time."""
    if value is not None and value.strip().lstrip("-").isdigit():
        millis = int(value.strip())
        if not _MS_RANGE[0] <= millis <= _MS_RANGE[1]:
            raise FieldError(name, "epoch milliseconds out of range")
        return datetime.fromtimestamp(millis / 1000, UTC)
    return query_instant(name, value)


@router.get("/api/v1/annotations/grafana")
async def grafana_annotations(
    principal: CanRead,
    session: SessionDep,
    settings: SettingsDep,
    from_: Annotated[
        str | None,
        Query(alias="from", max_length=64, description="Start: epoch ms (${__from}) or ISO 8601"),
    ] = None,
    to: Annotated[
        str | None, Query(max_length=64, description="End: epoch ms (${__to}) or ISO 8601")
    ] = None,
    service: Annotated[
        str | None, Query(max_length=200, description="A service's id, name or slug")
    ] = None,
    change_type: Annotated[ChangeType | None, Query()] = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
    environment: Annotated[str | None, Query(max_length=100)] = None,
    risk_level: Annotated[RiskLevel | None, Query()] = None,
    changed_by: Annotated[str | None, Query(max_length=255)] = None,
    tag: Annotated[
        list[Annotated[str, Query(max_length=100)]] | None,
        Query(description="Repeat to require all tags"),
    ] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Max annotations (1-1000)")] = 500,
) -> AnnotationListEnvelope:
    """Changes in a time range as Grafana annotations (time, timeEnd, title, text, tags)."""
    service_id: str | None = None
    if service is not None:
        found = await services_service.find(session, principal.org_id, service)
        if found is None:
            found = await services_service.find_by_name_or_slug(session, principal.org_id, service)
        if found is None:
            return AnnotationListEnvelope(
                data=[], meta=ListMeta(total=0, limit=limit, offset=0, has_more=False)
            )
        service_id = found.id
    filters = ChangeFilters(
        service_id=service_id,
        change_type=str(change_type) if change_type else None,
        source=source,
        environment=environment,
        start=_instant("from", from_),
        end=_instant("to", to),
        risk_level=str(risk_level) if risk_level else None,
        changed_by=changed_by,
        tags=tuple(dict.fromkeys(tag or ())),
        q=q,
        sort="occurred_at",
    )
    changes, total = await changes_service.list_changes(
        session, principal.org_id, filters, limit=limit, offset=0
    )
    context = Context(
        org_id=principal.org_id, channel_id="", channel_name="", public_url=settings.public_url
    )
    return AnnotationListEnvelope(
        data=[AnnotationOut.model_validate(annotation(c, context)) for c in changes],
        meta=ListMeta(total=total, limit=limit, offset=0, has_more=total > limit),
    )
