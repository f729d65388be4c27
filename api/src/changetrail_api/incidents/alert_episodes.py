"""What an Alertmanager notification does to incidents: one group episode is one incident.

The rules are ``episodes.py`` (pure); this service loads what they need, the candidate
incidents of the notification's group, and stores what they decide: the incident, its
services and the alert firings that identify its episode from now on.

Never commits: the request's session does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import new_id, utcnow_ms
from changetrail_api.errors import ProblemError
from changetrail_api.incidents import episodes, repository
from changetrail_api.incidents.alert_groups import AlertGroup
from changetrail_api.incidents.episodes import Candidate, Episode
from changetrail_api.incidents.models import Incident
from changetrail_api.incidents.schemas import AlertAction, Severity, UnmatchedLabel
from changetrail_api.services import service as services_service
from changetrail_api.webhooks.models import WebhookEndpoint

SOURCE = "alertmanager"


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


def _episode_of(incident: Incident, service_ids: list[str]) -> Episode:
    try:
        severity = Severity(incident.severity)
    except ValueError:
        severity = Severity.MEDIUM
    return Episode(
        title=incident.title,
        severity=severity,
        environment=incident.environment,
        started_at=incident.started_at,
        resolved_at=incident.resolved_at,
        service_ids=tuple(service_ids),
        details=(incident.details or {}).get("alertmanager") or {},
    )


async def _store_new(
    session: AsyncSession, endpoint: WebhookEndpoint, group_id: str, episode: Episode
) -> Incident:
    now = utcnow_ms()
    values: dict[str, Any] = {
        "id": new_id("inc"),
        "org_id": endpoint.org_id,
        "title": episode.title,
        "severity": str(episode.severity),
        "environment": episode.environment,
        "source": SOURCE,
        "external_id": episodes.external_id(group_id, episode.started_at),
        "open_group": group_id if episode.open else None,
        "details": {"alertmanager": dict(episode.details)},
        "started_at": episode.started_at,
        "resolved_at": episode.resolved_at,
        "created_at": now,
        "updated_at": now,
    }
    if not await repository.insert_if_new(session, values):
        # The group is held (see ``take_alert_group``) and every incident that could
        # conflict was a candidate, so only a change made outside these rules gets here.
        raise ProblemError(409, "An incident of this alert group conflicts; retry the delivery.")
    await repository.set_services(session, endpoint.org_id, values["id"], episode.service_ids)
    return Incident(**values)


async def _store_changes(
    session: AsyncSession, incident: Incident, before: Episode, after: Episode
) -> None:
    if after.service_ids != before.service_ids:
        await repository.set_services(session, incident.org_id, incident.id, after.service_ids)
    incident.severity = str(after.severity)
    incident.started_at = after.started_at
    incident.resolved_at = after.resolved_at
    if not after.open:
        # A resolved incident no longer holds its group: the next episode opens a new one.
        incident.open_group = None
    incident.details = {**(incident.details or {}), "alertmanager": dict(after.details)}
    incident.updated_at = utcnow_ms()
    await session.flush()


async def _belongs_to(
    session: AsyncSession, org_id: str, group_id: str, group: AlertGroup
) -> tuple[dict[episodes.Firing, str], dict[str, Incident], Candidate | None]:
    """Which incident holds each firing, the group's candidate incidents, and the chosen one."""
    holders = await repository.holders_of(session, org_id, group_id, episodes.firings(group))
    opening_id = episodes.external_id(group_id, group.started_at)
    incidents = {
        incident.id: incident
        for incident in await repository.alert_group_incidents(
            session,
            org_id,
            SOURCE,
            group_id=group_id,
            external_id=opening_id,
            incident_ids=sorted(set(holders.values())),
        )
    }
    held = list(holders.values())
    chosen = episodes.choose(
        Candidate(
            incident_id=incident.id,
            started_at=incident.started_at,
            shared=held.count(incident.id),
            same_opening=incident.external_id == opening_id,
            holds_group=incident.open_group == group_id and incident.resolved_at is None,
        )
        for incident in incidents.values()
    )
    return holders, incidents, chosen


async def receive(
    session: AsyncSession, endpoint: WebhookEndpoint, group: AlertGroup
) -> tuple[AlertAction, Incident, list[UnmatchedLabel]]:
    """Open, update or resolve the group's incident; returns what happened to which incident."""
    group_id = episodes.group_id(endpoint.id, group.group_key)
    await repository.take_alert_group(
        session,
        org_id=endpoint.org_id,
        group_id=group_id,
        endpoint_id=endpoint.id,
        group_key=str(group.details.get("group_key") or group.group_key[:1000]),
        now=utcnow_ms(),
    )
    service_ids, unmatched = await _resolve_services(session, endpoint, group)
    holders, incidents, chosen = await _belongs_to(session, endpoint.org_id, group_id, group)
    fresh = None
    ended_at = incidents[chosen.incident_id].resolved_at if chosen is not None else None
    if chosen is not None and ended_at is not None:
        its_firings = {f for f, holder in holders.items() if holder == chosen.incident_id}
        fresh = episodes.new_episode_in(group, its_firings, ended_at)
    if fresh is not None:
        # The ended episode has these firings already; what fired since is the next episode.
        group = fresh
        holders, incidents, chosen = await _belongs_to(session, endpoint.org_id, group_id, group)
    firings = episodes.firings(group)
    pairs = [(u.label, u.value) for u in unmatched]
    if chosen is None:
        action, episode = episodes.fold(
            None,
            group,
            service_ids=service_ids,
            unmatched=pairs,
            environment=endpoint.environment,
        )
        incident = await _store_new(session, endpoint, group_id, episode)
    else:
        incident = incidents[chosen.incident_id]
        current = (await repository.services_of(session, [incident.id]))[incident.id]
        before = _episode_of(incident, [service_id for service_id, _ in current])
        action, after = episodes.fold(
            before,
            group,
            service_ids=service_ids,
            unmatched=pairs,
            environment=endpoint.environment,
        )
        if after != before:
            await _store_changes(session, incident, before, after)
    new_firings = [firing for firing in firings if firing not in holders]
    await repository.hold_firings(session, endpoint.org_id, group_id, incident.id, new_firings)
    return action, incident, unmatched
