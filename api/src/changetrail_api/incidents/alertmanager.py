"""``POST /api/webhooks/incoming/alertmanager/{token}``: Alertmanager opens and resolves incidents.

Alertmanager (webhook payload version 4) notifies once per alert *group*, again whenever the
group changes or its repeat interval passes, and once more when the whole group resolves; HA
pairs may each deliver the same notification. So one group episode must map to one incident:

- ``external_id`` is the endpoint, the ``groupKey`` and the earliest ``startsAt`` of the group's
  alerts: a repeat or redelivery carries the same three, collides on the unique
  ``(org, source, external_id)`` and changes nothing.
- ``open_group`` (endpoint + ``groupKey``) is set while the incident is open and unique per
  organisation, so a notification whose earliest alert changed (the first alert resolved and
  dropped out, a new one joined) still finds the open incident instead of opening a second.
- ``status: resolved`` resolves the open incident (``resolved_at`` = the latest ``endsAt``)
  and clears ``open_group``; the group's next firing opens a new incident.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import new_id, utcnow_ms
from changetrail_api.deps import SessionDep, SettingsDep
from changetrail_api.errors import FieldError, ProblemError
from changetrail_api.incidents import repository, service
from changetrail_api.incidents.alert_groups import (
    MAX_FINGERPRINTS,
    AlertGroup,
    AlertmanagerPayload,
    interpret,
    parse_label_names,
)
from changetrail_api.incidents.models import Incident
from changetrail_api.incidents.schemas import (
    SEVERITY_ORDER,
    AlertAction,
    AlertReceipt,
    AlertReceiptEnvelope,
    Severity,
    UnmatchedLabel,
)
from changetrail_api.security import same_secret
from changetrail_api.services import repository as services_repository
from changetrail_api.webhooks import service as webhooks_service
from changetrail_api.webhooks.models import WebhookEndpoint

SOURCE = "alertmanager"

ALERT_NOTIFICATIONS = Counter(
    "changetrail_alertmanager_notifications_total",
    "Alertmanager notifications received, by what they did to incidents.",
    ["action"],
)

router = APIRouter(tags=["incidents"])


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


async def _resolve_services(
    session: AsyncSession, endpoint: WebhookEndpoint, group: AlertGroup
) -> tuple[list[str], list[UnmatchedLabel]]:
    service_ids: dict[str, None] = {}
    unmatched: list[UnmatchedLabel] = []
    for label, value in group.service_candidates:
        found = await services_repository.find_by_name_or_slug(session, endpoint.org_id, value)
        if found is None:
            unmatched.append(UnmatchedLabel(label=label, value=value))
        else:
            service_ids.setdefault(found.id, None)
    if not service_ids and endpoint.service_id is not None:
        service_ids[endpoint.service_id] = None
    return list(service_ids), unmatched


def _merge_details(incident: Incident, group: AlertGroup) -> dict[str, Any]:
    previous = (incident.details or {}).get("alertmanager") or {}
    fingerprints = list(
        dict.fromkeys([*(previous.get("fingerprints") or []), *group.fingerprints])
    )[:MAX_FINGERPRINTS]
    return {"alertmanager": {**group.details, "fingerprints": fingerprints}}


async def _update_open(
    session: AsyncSession, incident: Incident, group: AlertGroup, service_ids: list[str]
) -> bool:
    """Fold a repeat notification into the open incident; True when anything changed."""
    current = (await repository.services_of(session, [incident.id]))[incident.id]
    current_ids = [service_id for service_id, _ in current]
    merged_ids = list(dict.fromkeys([*current_ids, *service_ids]))
    severity = max(Severity(incident.severity), group.severity, key=SEVERITY_ORDER.__getitem__)
    details = _merge_details(incident, group)
    started_at = min(incident.started_at, group.started_at)
    changed = (
        merged_ids != current_ids
        or str(severity) != incident.severity
        or details != incident.details
        or started_at != incident.started_at
    )
    if not changed:
        return False
    if merged_ids != current_ids:
        await repository.set_services(session, incident.org_id, incident.id, merged_ids)
    incident.severity, incident.details, incident.started_at = str(severity), details, started_at
    incident.updated_at = utcnow_ms()
    await session.flush()
    return True


async def receive(
    session: AsyncSession, endpoint: WebhookEndpoint, group: AlertGroup
) -> tuple[AlertAction, Incident, list[UnmatchedLabel]]:
    """Open, update or resolve the group's incident; returns what happened to which incident."""
    service_ids, unmatched = await _resolve_services(session, endpoint, group)
    open_group = _digest(endpoint.id, group.group_key)
    external_id = f"am:{open_group[:32]}:{group.started_at.strftime('%Y%m%dT%H%M%S.%fZ')}"
    now = utcnow_ms()
    firing = group.status == "firing"
    values: dict[str, Any] = {
        "id": new_id("inc"),
        "org_id": endpoint.org_id,
        "title": group.title,
        "severity": str(group.severity),
        "environment": group.environment or endpoint.environment,
        "source": SOURCE,
        "external_id": external_id,
        "open_group": open_group if firing else None,
        "details": {"alertmanager": {**group.details, "fingerprints": list(group.fingerprints)}},
        "started_at": group.started_at,
        "resolved_at": None if firing else group.ended_at,
        "created_at": now,
        "updated_at": now,
    }
    existing = None
    if not firing:
        # Resolve what is open before trying to record a new, already resolved incident.
        existing = await repository.find_for_group(
            session, endpoint.org_id, SOURCE, open_group, external_id
        )
    if existing is None:
        if await repository.insert_if_new(session, values):
            await repository.set_services(session, endpoint.org_id, values["id"], service_ids)
            return ("opened" if firing else "recorded_resolved"), Incident(**values), unmatched
        existing = await repository.find_for_group(
            session, endpoint.org_id, SOURCE, open_group, external_id
        )
        if existing is None:
            raise ProblemError(409, "The alert group changed concurrently; retry the delivery.")
    if existing.resolved_at is not None:
        # A late redelivery for an episode that has ended since: history stays as it is.
        return "unchanged", existing, unmatched
    if firing:
        changed = await _update_open(session, existing, group, service_ids)
        return ("updated" if changed else "unchanged"), existing, unmatched
    existing.resolved_at = max(group.ended_at or now, existing.started_at)
    existing.open_group = None
    existing.details = _merge_details(existing, group)
    existing.updated_at = now
    await session.flush()
    return "resolved", existing, unmatched


def _check_secret(request: Request, endpoint: WebhookEndpoint) -> None:
    if endpoint.secret is None:
        return
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not same_secret(credentials.strip(), endpoint.secret):
        raise ProblemError(
            401, "This endpoint needs 'Authorization: Bearer <secret>' (http_config.authorization)."
        )


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
    action, incident, unmatched = await receive(session, endpoint, group)
    ALERT_NOTIFICATIONS.labels(action=action).inc()
    out = await service.with_suspects(session, incident)
    receipt = AlertReceipt(action=action, incident=out, unmatched_labels=unmatched)
    return JSONResponse(
        AlertReceiptEnvelope(data=receipt).model_dump(mode="json"),
        status_code=201 if action in ("opened", "recorded_resolved") else 200,
    )
