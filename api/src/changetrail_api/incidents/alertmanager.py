"""``POST /api/webhooks/incoming/alertmanager/{token}``: Alertmanager opens and resolves incidents.

The HTTP side: the endpoint's token and optional bearer secret, the body as Alertmanager's
payload, the receipt. What a notification does to incidents is ``alert_episodes``.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import ValidationError

from changetrail_api.base import utcnow_ms
from changetrail_api.deps import SessionDep, SettingsDep
from changetrail_api.errors import FieldError, ProblemError
from changetrail_api.incidents import access_log, alert_episodes, service
from changetrail_api.incidents.alert_groups import (
    AlertGroup,
    AlertmanagerPayload,
    interpret,
    parse_label_names,
)
from changetrail_api.incidents.schemas import AlertReceipt, AlertReceiptEnvelope
from changetrail_api.security import same_secret
from changetrail_api.timefmt import format_utc
from changetrail_api.webhooks import service as webhooks_service
from changetrail_api.webhooks.models import WebhookEndpoint

ALERT_NOTIFICATIONS = Counter(
    "changetrail_alertmanager_notifications_total",
    "Alertmanager notifications received, by what they did to incidents.",
    ["action"],
)

# Alerts listed per access log line; the count says how many there were.
_LOGGED_ALERTS = 20

router = APIRouter(tags=["incidents"], route_class=access_log.LoggedRoute)


def _check_secret(request: Request, endpoint: WebhookEndpoint) -> None:
    if endpoint.secret is None:
        return
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not same_secret(credentials.strip(), endpoint.secret):
        raise ProblemError(
            401, "This endpoint needs 'Authorization: Bearer <secret>' (http_config.authorization)."
        )


def _alerts_logged(group: AlertGroup) -> str:
    listed = [
        f"{a.fingerprint}@{format_utc(a.starts_at)}:{a.status}"
        for a in group.alerts[:_LOGGED_ALERTS]
    ]
    return ",".join(listed) + (",…" if len(group.alerts) > _LOGGED_ALERTS else "")


@router.post(
    "/api/webhooks/incoming/alertmanager/{token}",
    status_code=201,
    response_model=AlertReceiptEnvelope,
    responses={
        201: {"description": "An incident was opened (or recorded already resolved)"},
        200: {"description": "An open incident was updated or resolved, or nothing changed"},
    },
)
async def receive_alertmanager(
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    service_labels: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="Comma-separated label names whose values name services "
            "(default: CHANGETRAIL_ALERTMANAGER_SERVICE_LABELS).",
        ),
    ] = None,
) -> JSONResponse:
    """Receive an Alertmanager notification and open, update or resolve its incident."""
    endpoint = await webhooks_service.endpoint_for_token(session, "alertmanager", token)
    access_log.note(request, endpoint_id=endpoint.id)
    _check_secret(request, endpoint)
    try:
        label_names = parse_label_names(service_labels or settings.alertmanager_service_labels)
    except ValueError as exc:
        raise FieldError("service_labels", str(exc)) from None
    body = await request.body()
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ProblemError(415, "The body is not a JSON document.") from None
    try:
        payload = AlertmanagerPayload.model_validate(document)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        raise ProblemError(
            422, "Not an Alertmanager webhook payload (version 4).", errors=errors
        ) from None
    group = interpret(payload, label_names, utcnow_ms())
    access_log.note(
        request,
        group=group.group_key,
        group_status=group.status,
        alert_count=len(group.alerts),
        # How many alerts Alertmanager left out (``max_alerts``), read leniently: logged only.
        truncated=document.get("truncatedAlerts") or None,
        alerts=_alerts_logged(group),
    )
    action, incident, unmatched = await alert_episodes.receive(session, endpoint, group)
    access_log.note(request, action=action, incident=incident.id)
    ALERT_NOTIFICATIONS.labels(action=action).inc()
    out = await service.with_suspects(session, incident)
    receipt = AlertReceipt(action=action, incident=out, unmatched_labels=unmatched)
    return JSONResponse(
        AlertReceiptEnvelope(data=receipt).model_dump(mode="json"),
        status_code=201 if action in ("opened", "recorded_resolved") else 200,
    )
