"""What an Alertmanager notification does to incidents: one group episode is one incident.

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

Never commits: the request's session does.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import new_id, utcnow_ms
from changetrail_api.errors import ProblemError
from changetrail_api.incidents import repository
from changetrail_api.incidents.alert_groups import MAX_FINGERPRINTS, AlertGroup
from changetrail_api.incidents.models import Incident
from changetrail_api.incidents.schemas import SEVERITY_ORDER, AlertAction, Severity, UnmatchedLabel
from changetrail_api.services import service as services_service
from changetrail_api.webhooks.models import WebhookEndpoint

SOURCE = "alertmanager"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


async def _resolve_services(
    session: AsyncSession, endpoint: WebhookEndpoint, group: AlertGroup
) -> tuple[list[str], list[UnmatchedLabel]]:
    service_ids: dict[str, None] = {}
    unmatched: list[UnmatchedLabel] = []
    for label, value in group.service_candidates:
        found = await services_service.find_by_name_or_slug(session, endpoint.org_id, value)
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
