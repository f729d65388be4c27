"""``POST /api/webhooks/incoming/changes/{token}``: any JSON in, detected changes out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from changetrail_api.deps import SessionDep
from changetrail_api.detectors import PayloadError, SignatureMismatch, analyse
from changetrail_api.errors import ProblemError
from changetrail_api.metrics import WEBHOOK_DELIVERIES, source_label
from changetrail_api.webhooks import service

router = APIRouter(tags=["webhooks"])


@router.post(
    "/api/webhooks/incoming/changes/{token}",
    status_code=201,
    responses={
        201: {"description": "At least one change recorded"},
        200: {"description": "Nothing new to record (ping, read-only call, redelivery)"},
    },
)
async def receive_changes(token: str, request: Request, session: SessionDep) -> JSONResponse:
    """Receive a provider webhook and record the change(s) it describes."""
    endpoint = await service.endpoint_for_token(session, "changes", token)
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        detection = analyse(headers, body, endpoint.secret)
    except SignatureMismatch as exc:
        WEBHOOK_DELIVERIES.labels(source=source_label(exc.source), outcome="bad_signature").inc()
        raise ProblemError(401, f"Signature verification failed: {exc}") from None
    except PayloadError as exc:
        WEBHOOK_DELIVERIES.labels(source="unknown", outcome="bad_payload").inc()
        raise ProblemError(415, f"The body is not a JSON payload: {exc}") from None
    recorded, skipped = await service.record_drafts(session, endpoint, detection.changes)
    skipped = [{"reason": s.reason} for s in detection.skipped] + skipped
    WEBHOOK_DELIVERIES.labels(
        source=source_label(detection.source), outcome="recorded" if recorded else "nothing_new"
    ).inc()
    return JSONResponse(
        {
            **(detection.reply or {}),
            "data": {
                "source": detection.source,
                "event": detection.event,
                "changes": recorded,
                "skipped": skipped,
            },
        },
        status_code=201 if recorded else 200,
    )
