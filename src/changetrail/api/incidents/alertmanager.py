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
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail.api.base import new_id, utcnow_ms
from changetrail.api.deps import SessionDep
from changetrail.api.errors import ProblemError
from changetrail.api.incidents import repository, service
from changetrail.api.incidents.models import Incident
from changetrail.api.incidents.schemas import (
    SEVERITY_ORDER,
    AlertAction,
    AlertReceipt,
    AlertReceiptEnvelope,
    Severity,
    UnmatchedLabel,
)
from changetrail.api.security import same_secret
from changetrail.api.services import repository as services_repository
from changetrail.api.webhooks import service as webhooks_service
from changetrail.api.webhooks.models import WebhookEndpoint

SOURCE = "alertmanager"
# Label names whose values may name a service, most specific first. Prometheus turns
# ``app.kubernetes.io/name`` into ``app_kubernetes_io_name`` when it relabels pod labels.
DEFAULT_SERVICE_LABELS = ("service", "app", "app_kubernetes_io_name", "namespace", "job")
ENVIRONMENT_LABELS = ("environment", "env")
MAX_SERVICE_VALUES = 20
MAX_FINGERPRINTS = 100
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}$")
# Alertmanager's "no end yet".
_ZERO_TIME_YEAR = 1

_SEVERITY_WORDS = {
    Severity.CRITICAL: ("critical", "crit", "page", "emergency", "fatal", "p1", "sev1"),
    Severity.HIGH: ("high", "error", "err", "major", "p2", "sev2"),
    Severity.MEDIUM: ("warning", "warn", "medium", "minor", "p3", "sev3"),
    Severity.LOW: ("info", "low", "none", "notice", "p4", "p5", "sev4"),
}
_SEVERITIES = {word: level for level, words in _SEVERITY_WORDS.items() for word in words}

ALERT_NOTIFICATIONS = Counter(
    "changetrail_alertmanager_notifications_total",
    "Alertmanager notifications received, by what they did to incidents.",
    ["action"],
)

router = APIRouter(tags=["incidents"])


class Alert(BaseModel):
    # Field names as Alertmanager spells them, so the model reads like its documentation.
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None


class AlertmanagerPayload(BaseModel):
    """Alertmanager's webhook body (version 4); unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    version: str = "4"
    groupKey: Annotated[str, Field(min_length=1, max_length=10_000)]
    status: Literal["firing", "resolved"]
    receiver: str | None = None
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str | None = None
    alerts: Annotated[list[Alert], Field(min_length=1, max_length=10_000)]


@dataclass(frozen=True, slots=True)
class AlertGroup:
    """What a notification says about its group, independent of any database."""

    group_key: str
    status: Literal["firing", "resolved"]
    title: str
    severity: Severity
    environment: str | None
    started_at: datetime
    ended_at: datetime | None
    # (label, value) pairs that may name services, in preference order.
    service_candidates: tuple[tuple[str, str], ...]
    fingerprints: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)


def _clip(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _small(labels: dict[str, str], limit: int = 50) -> dict[str, str]:
    return {_clip(k, 100): _clip(v) for k, v in list(sorted(labels.items()))[:limit]}


def severity_of(payload: AlertmanagerPayload) -> Severity:
    """The highest severity any alert of the group claims; medium when none says."""
    words = [payload.commonLabels.get("severity", "")] + [
        alert.labels.get("severity", "") for alert in payload.alerts
    ]
    levels = [_SEVERITIES[w.strip().lower()] for w in words if w.strip().lower() in _SEVERITIES]
    return max(levels, key=SEVERITY_ORDER.__getitem__) if levels else Severity.MEDIUM


def title_of(payload: AlertmanagerPayload) -> str:
    first = payload.alerts[0]
    name = (
        payload.commonLabels.get("alertname")
        or payload.groupLabels.get("alertname")
        or first.labels.get("alertname")
    )
    summary = payload.commonAnnotations.get("summary") or (
        first.annotations.get("summary") if len(payload.alerts) == 1 else None
    )
    if name and summary:
        return _clip(f"{name}: {summary}")
    return _clip(name or summary or "Alertmanager alert group")


def service_candidates(
    payload: AlertmanagerPayload, label_names: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    found: dict[tuple[str, str], None] = {}
    for label in label_names:
        values = [payload.commonLabels.get(label)] + [a.labels.get(label) for a in payload.alerts]
        for value in values:
            if value and len(found) < MAX_SERVICE_VALUES:
                found.setdefault((label, value), None)
    return tuple(found)


def interpret(
    payload: AlertmanagerPayload, label_names: tuple[str, ...], now: datetime
) -> AlertGroup:
    started_at = min(alert.startsAt for alert in payload.alerts).astimezone(UTC)
    ended_at = None
    if payload.status == "resolved":
        ends = [
            alert.endsAt
            for alert in payload.alerts
            if alert.endsAt is not None and alert.endsAt.year > _ZERO_TIME_YEAR
        ]
        ended_at = max(max(ends).astimezone(UTC) if ends else now, started_at)
    environment = next(
        (
            labels[name]
            for name in ENVIRONMENT_LABELS
            for labels in [payload.commonLabels, *(a.labels for a in payload.alerts)]
            if labels.get(name)
        ),
        None,
    )
    fingerprints = tuple(dict.fromkeys(a.fingerprint for a in payload.alerts if a.fingerprint))[
        :MAX_FINGERPRINTS
    ]
    return AlertGroup(
        group_key=payload.groupKey,
        status=payload.status,
        title=title_of(payload),
        severity=severity_of(payload),
        environment=_clip(environment, 100) if environment else None,
        started_at=started_at,
        ended_at=ended_at,
        service_candidates=service_candidates(payload, label_names),
        fingerprints=fingerprints,
        details={
            "group_key": _clip(payload.groupKey, 1000),
            "receiver": payload.receiver,
            "external_url": payload.externalURL,
            "group_labels": _small(payload.groupLabels),
            "common_labels": _small(payload.commonLabels),
            "common_annotations": _small(payload.commonAnnotations),
            "generator_url": payload.alerts[0].generatorURL,
        },
    )


def parse_label_names(value: str | None) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_SERVICE_LABELS
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    bad = [n for n in names if not _LABEL_NAME.match(n)]
    if bad or not names or len(names) > 20:
        message = "a comma-separated list of up to 20 Prometheus label names"
        raise ProblemError(
            422,
            f"service_labels: expected {message}",
            errors=[{"field": "service_labels", "message": message}],
        )
    return names


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
    service_labels: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="Comma-separated label names whose values name services "
            f"(default: {','.join(DEFAULT_SERVICE_LABELS)}).",
        ),
    ] = None,
) -> JSONResponse:
    """Receive an Alertmanager notification and open, update or resolve its incident."""
    endpoint = await webhooks_service.endpoint_for_token(session, "alertmanager", token)
    _check_secret(request, endpoint)
    label_names = parse_label_names(service_labels)
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
