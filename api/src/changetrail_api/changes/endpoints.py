from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from changetrail_api.auth import Principal, require
from changetrail_api.changes import service
from changetrail_api.changes.direct import body_route, recording_route
from changetrail_api.changes.filters import ChangeFilters
from changetrail_api.changes.schemas import (
    ChangeBatch,
    ChangeBatchEnvelope,
    ChangeBatchItem,
    ChangeBatchMeta,
    ChangeCompletion,
    ChangeCreate,
    ChangeEnvelope,
    ChangeListEnvelope,
)
from changetrail_api.db import Database, session_scope
from changetrail_api.deps import SessionDep
from changetrail_api.domain import ChangeType, Outcome, RiskLevel
from changetrail_api.errors import FieldError, validation_errors
from changetrail_api.pagination import Page, PageDep
from changetrail_api.scopes import Scope
from changetrail_api.services import service as services_service
from changetrail_api.timefmt import query_instant
from changetrail_api.trusted import built

router = APIRouter(tags=["changes"])

CanRead = Annotated[Principal, Depends(require(Scope.CHANGES_READ))]
CanWrite = Annotated[Principal, Depends(require(Scope.CHANGES_WRITE))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Replays with the same key return the first change (when no external_id).",
    ),
]

_CREATED: dict[int | str, dict[str, Any]] = {
    201: {"description": "Recorded"},
    200: {"description": "Already recorded"},
}


async def _filters(  # async: no worker-thread hop (see pagination._page)
    change_type: Annotated[ChangeType | None, Query(description="Filter by change type")] = None,
    source: Annotated[str | None, Query(max_length=100, description="Filter by source")] = None,
    environment: Annotated[str | None, Query(max_length=100)] = None,
    start_date: Annotated[
        str | None, Query(description="Changes at or after this time (ISO 8601)")
    ] = None,
    end_date: Annotated[
        str | None, Query(description="Changes before this time (ISO 8601)")
    ] = None,
    risk_level: Annotated[RiskLevel | None, Query()] = None,
    changed_by: Annotated[str | None, Query(max_length=255)] = None,
    tag: Annotated[
        list[Annotated[str, Query(max_length=100)]] | None,
        Query(description="Repeat to require all tags"),
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Text in summary/description")
    ] = None,
    external_id: Annotated[str | None, Query(max_length=255)] = None,
    outcome: Annotated[
        Outcome | None, Query(description="Filter by how the change ended (rollouts)")
    ] = None,
    sort: Annotated[Literal["created_at", "occurred_at"], Query()] = "created_at",
) -> ChangeFilters:
    return ChangeFilters(
        change_type=str(change_type) if change_type else None,
        source=source,
        environment=environment,
        start=query_instant("start_date", start_date),
        end=query_instant("end_date", end_date),
        risk_level=str(risk_level) if risk_level else None,
        changed_by=changed_by,
        tags=tuple(dict.fromkeys(tag or ())),
        q=q,
        external_id=external_id,
        outcome=str(outcome) if outcome else None,
        sort=sort,
    )


FiltersDep = Annotated[ChangeFilters, Depends(_filters)]


# The hot paths run one plain function of a connection through app.state.database (see
# db.Database) and answer with the serialised envelope: no ORM session, no yield dependency,
# no second validation of a response built from validated input and typed columns.


async def _known_service(request: Request, principal: Principal, service_id: str) -> None:
    """A 404 unless the organisation has this service."""
    async with session_scope(request.app.state.sessionmaker) as session:
        await services_service.get(session, principal.org_id, service_id)


async def _record(
    request: Request, principal: Principal, body: ChangeCreate, idempotency_key: str | None
) -> Response:
    writer: service.ChangeWriter = request.app.state.change_writer
    change, created = await writer.record(principal.org_id, body, idempotency_key=idempotency_key)
    # 201 for a new change, 200 when an idempotency key found the one already recorded.
    return _json(
        ChangeEnvelope.model_construct(data=change),
        status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


async def _list(
    request: Request, principal: Principal, filters: ChangeFilters, page: Page
) -> Response:
    database: Database = request.app.state.database
    data, total = await service.list_with(
        database, principal.org_id, filters, limit=page.limit, offset=page.offset
    )
    return _json(ChangeListEnvelope.model_construct(data=data, meta=page.meta(total)))


def _json(envelope: BaseModel, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(envelope.model_dump_json(), status_code, media_type="application/json")


async def log_change(
    body: ChangeCreate,
    principal: CanWrite,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Log a change (org-level)."""
    return await _record(request, principal, body, idempotency_key)


# Declared by log_change's signature (and so documented like every route); handled by
# direct.recording_route, which takes the same steps without solving dependencies per request.
router.add_api_route(
    "/api/v1/changes",
    log_change,
    methods=["POST"],
    status_code=201,
    responses=_CREATED,
    response_model=ChangeEnvelope,
    route_class_override=recording_route(_record),
)


BATCH_PATH = "/api/v1/changes/batch"


async def log_changes(body: ChangeBatch, principal: CanWrite, request: Request) -> Response:
    """Log up to 1,000 changes at once, answered item by item in request order.

    Each item is validated as `POST /api/v1/changes` validates a change; an invalid item is
    answered with its errors and does not stop the others. The valid items are stored in one
    transaction: all of them or, when the database fails, none (a 503; retrying is safe for
    items with an `external_id`). An item whose `source` and `external_id` were recorded
    already, before or earlier in the same batch, is `existing` and names that change.
    """
    return await _record_batch(request, principal, body)


async def _record_batch(request: Request, principal: Principal, body: ChangeBatch) -> Response:
    items = [_validated(item) for item in body.changes]
    results = await service.record_batch(request.app.state.database, principal.org_id, items)
    data = [_batch_item(result) for result in results]
    meta = ChangeBatchMeta(
        created=sum(r.status == "created" for r in results),
        existing=sum(r.status == "existing" for r in results),
        invalid=sum(r.status == "invalid" for r in results),
    )
    return _json(ChangeBatchEnvelope.model_construct(data=data, meta=meta))


# Declared by log_changes's signature; handled by direct.body_route (see log_change's route).
router.add_api_route(
    BATCH_PATH,
    log_changes,
    methods=["POST"],
    response_model=ChangeBatchEnvelope,
    responses={
        413: {"description": "The body exceeds the batch body limit (max_batch_body_bytes)"},
        422: {"description": "Not a batch: no `changes`, or none, or more than 1,000"},
        503: {"description": "The database failed; nothing of the batch was stored"},
    },
    route_class_override=body_route(ChangeBatch, Scope.CHANGES_WRITE, _record_batch),
)


def _batch_item(result: service.BatchResult) -> ChangeBatchItem:
    if result.errors is not None:
        return ChangeBatchItem(status=result.status, change=None, errors=result.errors)
    # Built from validated input and typed columns: constructed, not validated a second time.
    return built(
        ChangeBatchItem, {"status": result.status, "change": result.change, "errors": None}
    )


def _validated(item: Any) -> ChangeCreate | list[dict[str, str]]:
    """One batch item as the single post would take it, or the errors that post would list."""
    try:
        return ChangeCreate.model_validate(item)
    except ValidationError as error:
        errors = validation_errors(RequestValidationError(error.errors()))
        # An error about the item as a whole (not an object, inconsistent fields) has no field.
        return [{**e, "field": e["field"] or "item"} for e in errors]


@router.get("/api/v1/changes", response_model=ChangeListEnvelope)
async def list_changes(
    principal: CanRead,
    request: Request,
    filters: FiltersDep,
    page: PageDep,
    service_id: Annotated[str | None, Query(max_length=40, description="Filter by service")] = None,
) -> Response:
    """List changes with filters, newest first."""
    return await _list(request, principal, replace(filters, service_id=service_id), page)


@router.get("/api/v1/changes/{change_id}")
async def get_change(change_id: str, principal: CanRead, session: SessionDep) -> ChangeEnvelope:
    """Get one change."""
    return ChangeEnvelope(data=await service.get(session, principal.org_id, change_id))


@router.patch(
    "/api/v1/changes/{change_id}",
    responses={
        404: {"description": "No such change in this organisation"},
        409: {"description": "The change ended with another outcome already"},
    },
)
async def complete_change(
    change_id: str, body: ChangeCompletion, principal: CanWrite, session: SessionDep
) -> ChangeEnvelope:
    """Complete a change with its outcome (how a rollout ended).

    Sets only `outcome`, `ended_at` and `outcome_reason`; idempotent for the same outcome.
    """
    change = await service.complete(session, principal.org_id, change_id, body)
    return ChangeEnvelope(data=change)


@router.post(
    "/api/v1/services/{service_id}/changes",
    status_code=201,
    responses=_CREATED,
    response_model=ChangeEnvelope,
)
async def log_service_change(
    service_id: str,
    body: ChangeCreate,
    principal: CanWrite,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Log a change for a specific service."""
    await _known_service(request, principal, service_id)
    if body.service_id is not None and body.service_id != service_id:
        raise FieldError("service_id", "differs from the service in the path")
    body = body.model_copy(update={"service_id": service_id})
    return await _record(request, principal, body, idempotency_key)


@router.get("/api/v1/services/{service_id}/changes", response_model=ChangeListEnvelope)
async def list_service_changes(
    service_id: str,
    principal: CanRead,
    request: Request,
    filters: FiltersDep,
    page: PageDep,
) -> Response:
    """List changes for a service, newest first."""
    await _known_service(request, principal, service_id)
    return await _list(request, principal, replace(filters, service_id=service_id), page)
