"""Which incident an Alertmanager notification belongs to, and what it changes there. Pure.

An *episode* of an alert group is what one incident stands for: from the first alert of the
group firing until Alertmanager reports the whole group resolved. Notifications do not name
their episode, and the obvious key, the group's earliest ``startsAt``, is not stable:
Alertmanager drops an alert from the group once it has reported it resolved, so a later
notification of the same episode starts later. What *is* stable is each alert's firing:

- A **firing** is an alert's ``fingerprint`` (the hash of its labels) with its ``startsAt``.
  Alertmanager keeps the earliest ``startsAt`` while an alert stays active (it merges a
  re-sent alert whose activity overlaps into the one it has) and gives an alert that fires
  again after resolving a new ``startsAt``. So every notification about one firing, from
  either replica of an HA pair, a retry or a redelivery, carries the same pair, and a new
  episode's alerts carry pairs never seen before.
- Every incident remembers the firings of every notification folded into it, per group
  (endpoint + ``groupKey``). A notification belongs to the incident that holds one of its
  firings: a redelivery, a repeat, a notification after a partial resolve (it still carries
  an alert that was there before) or a replica's copy finds its incident whether that is
  open or long resolved, and never opens a second one.
- A notification none of whose firings is known belongs to the group's open incident if it
  has one: the group has not been reported resolved, so this is still its episode (an alert
  joined and an earlier one left in between, or Alertmanager restarted without its storage
  and stamped re-sent alerts anew). Otherwise it is a new episode: a new incident.
- Resolving happens once, when a resolved notification reaches the open incident. A resolved
  incident is never reopened by a notification; an older one it had not seen yet can still
  tell it an earlier start, more alerts, services or labels.
- A notification can carry the resolved alerts of an episode that has ended next to an alert
  that fired since (a replica, or a group, that has not dropped the resolved alerts yet when
  the next firing comes). The resolved alerts find the ended incident, but the alerts firing
  since it resolved that no incident holds are a new episode: they open a new incident on
  their own (``new_episode_in``).

Every function here is a function of its arguments: the service loads the candidates and
stores the result, so the rules can be tested, and replayed over real notifications in any
order, without a database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from changetrail_api.incidents.alert_groups import MAX_FINGERPRINTS, AlertGroup, SeenAlert
from changetrail_api.incidents.schemas import SEVERITY_ORDER, AlertAction, Severity
from changetrail_api.timefmt import format_utc

# Firings remembered per notification: its earliest ones, so any redelivery of a notification
# shares all of them with the first delivery. Bounds the work for a group of thousands of
# alerts; one shared firing is enough to find the episode.
MAX_TRACKED_ALERTS = 1000
# Alerts shown in an incident's details (earliest first), and label values naming no service.
MAX_DETAIL_ALERTS = 100
MAX_UNMATCHED_LABELS = 20

Firing = tuple[str, datetime]
"""An alert's fingerprint and its ``startsAt``: one firing of one alert."""


def group_id(endpoint_id: str, group_key: str) -> str:
    """The group's identity: its ``groupKey`` as one endpoint receives it.

    Per endpoint, because two Alertmanager setups (production, staging) routed to two
    endpoints may use the same route and labels; the two replicas of an HA pair share one
    endpoint and one configuration, so they share group keys.
    """
    return hashlib.sha256(f"{endpoint_id}\n{group_key}".encode()).hexdigest()


def external_id(group: str, started_at: datetime) -> str:
    """The incident's ``external_id``: its group and the start of the notification that opened it.

    Kept as it was before episodes were identified by their firings, so incidents recorded
    then are still found by the same notifications.
    """
    return f"am:{group[:32]}:{started_at.strftime('%Y%m%dT%H%M%S.%fZ')}"


def firings(group: AlertGroup) -> tuple[Firing, ...]:
    """The firings a notification is known by: its earliest ``MAX_TRACKED_ALERTS``."""
    return tuple((alert.fingerprint, alert.starts_at) for alert in group.alerts)[
        :MAX_TRACKED_ALERTS
    ]


@dataclass(frozen=True, slots=True)
class Candidate:
    """An incident of the notification's group that the notification may belong to."""

    incident_id: str
    started_at: datetime
    # How many of the notification's firings the incident holds.
    shared: int
    # Its external_id is the one this notification would open (group and earliest start).
    same_opening: bool
    # The group's open incident.
    holds_group: bool


def choose(candidates: Iterable[Candidate]) -> Candidate | None:
    """The incident a notification belongs to; None when it opens a new episode."""
    listed = list(candidates)
    known = [c for c in listed if c.shared or c.same_opening]
    if known:
        # Two incidents share this notification's firings only when deliveries of one episode
        # arrived so out of order that it was split; the one holding most of them wins, then
        # the oldest, so the answer does not depend on the order the candidates come in.
        return min(
            known, key=lambda c: (-c.shared, not c.same_opening, c.started_at, c.incident_id)
        )
    return next((c for c in listed if c.holds_group), None)


def new_episode_in(
    group: AlertGroup, held: Collection[Firing], resolved_at: datetime
) -> AlertGroup | None:
    """The part of a notification that starts a new episode after its incident resolved.

    ``held`` are the firings of the ended incident the notification's known firings point to,
    and ``resolved_at`` is when it resolved. Its firing alerts that incident does not hold and
    that began at or after that resolve are a new episode: the notification narrowed to them
    (its start theirs), or None when there are none. Firings that began earlier and arrive
    late still belong to the ended episode.
    """
    fresh = tuple(
        alert
        for alert in group.alerts
        if alert.status == "firing"
        and (alert.fingerprint, alert.starts_at) not in held
        and alert.starts_at >= resolved_at
    )
    if not fresh:
        return None
    return replace(
        group,
        status="firing",
        started_at=fresh[0].starts_at,
        ended_at=None,
        fingerprints=tuple(dict.fromkeys(alert.fingerprint for alert in fresh)),
        alerts=fresh,
    )


@dataclass(frozen=True, slots=True)
class Episode:
    """What notifications decide about an incident; everything else belongs to its users."""

    title: str
    severity: Severity
    environment: str | None
    started_at: datetime
    resolved_at: datetime | None
    service_ids: tuple[str, ...]
    # The incident's ``details["alertmanager"]``.
    details: Mapping[str, Any]

    @property
    def open(self) -> bool:
        return self.resolved_at is None


def fold(
    current: Episode | None,
    group: AlertGroup,
    *,
    service_ids: Sequence[str],
    unmatched: Sequence[tuple[str, str]],
    environment: str | None,
) -> tuple[AlertAction, Episode]:
    """The incident after this notification, and what that was.

    ``current`` is the chosen incident (None for a new episode); ``service_ids`` and
    ``unmatched`` are the services the notification's labels name and the (label, value)
    pairs that name none; ``environment`` is the endpoint's default.
    """
    resolving = group.status == "resolved"
    if current is None:
        opened = Episode(
            title=group.title,
            severity=group.severity,
            environment=group.environment or environment,
            started_at=group.started_at,
            resolved_at=group.ended_at if resolving else None,
            service_ids=tuple(dict.fromkeys(service_ids)),
            details=merge_details(None, group, unmatched, resolved=resolving),
        )
        return ("recorded_resolved" if resolving else "opened"), opened
    started_at = min(current.started_at, group.started_at)
    resolved_at = current.resolved_at
    if resolved_at is None and resolving:
        # The group's end: the last of its alerts to resolve, never before the episode began.
        resolved_at = max(group.ended_at or started_at, started_at)
    after = replace(
        current,
        severity=max(current.severity, group.severity, key=SEVERITY_ORDER.__getitem__),
        started_at=started_at,
        resolved_at=resolved_at,
        service_ids=tuple(dict.fromkeys([*current.service_ids, *service_ids])),
        details=merge_details(current.details, group, unmatched, resolved=resolved_at is not None),
    )
    if current.open and not after.open:
        return "resolved", after
    return ("updated" if after != current else "unchanged"), after


def _alert_entry(alert: SeenAlert) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "status": alert.status,
        "starts_at": format_utc(alert.starts_at),
        "ends_at": format_utc(alert.ends_at) if alert.ends_at else None,
        "labels": dict(alert.labels),
    }


def _merge_alerts(
    previous: Sequence[Mapping[str, Any]], seen: Sequence[SeenAlert], *, resolved: bool
) -> list[dict[str, Any]]:
    """One entry per firing, earliest first; a resolved firing never turns firing again."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in previous:
        merged[(str(entry.get("fingerprint")), str(entry.get("starts_at")))] = dict(entry)
    for alert in seen:
        fresh = _alert_entry(alert)
        key = (fresh["fingerprint"], fresh["starts_at"])
        known = merged.get(key)
        if known is None:
            merged[key] = fresh
        elif known.get("status") != "resolved" and fresh["status"] == "resolved":
            merged[key] = {**known, "status": "resolved", "ends_at": fresh["ends_at"]}
    entries = sorted(merged.values(), key=lambda e: (str(e["starts_at"]), str(e["fingerprint"])))
    if resolved:
        # The whole group resolved: an alert Alertmanager stopped reporting (it stamped a
        # re-sent alert anew) has ended too, at a time nobody reported.
        entries = [
            e if e.get("status") == "resolved" else {**e, "status": "resolved"} for e in entries
        ]
    return entries[:MAX_DETAIL_ALERTS]


def _union(previous: Mapping[str, Any] | None, current: Mapping[str, str]) -> dict[str, str]:
    # A label or annotation keeps the value first recorded: a redelivery of an older
    # notification then changes nothing, and the incident shows what it opened with.
    merged = {str(k): str(v) for k, v in (previous or {}).items()}
    for key, value in current.items():
        merged.setdefault(key, value)
    return dict(sorted(merged.items()))


def merge_details(
    previous: Mapping[str, Any] | None,
    group: AlertGroup,
    unmatched: Sequence[tuple[str, str]],
    *,
    resolved: bool,
) -> dict[str, Any]:
    """``details["alertmanager"]`` with this notification folded in.

    Labels and annotations are merged, not replaced: Alertmanager's *common* labels and
    annotations shrink as alerts join a group (a summary annotation one alert lacks
    disappears), so the last notification alone would lose what the first one said.
    """
    old = previous or {}
    new = group.details
    alerts = _merge_alerts(old.get("alerts") or [], group.alerts, resolved=resolved)
    fingerprints = list(
        dict.fromkeys([*(old.get("fingerprints") or []), *(e["fingerprint"] for e in alerts)])
    )[:MAX_FINGERPRINTS]
    pairs = [(str(u.get("label")), str(u.get("value"))) for u in old.get("unmatched_labels") or []]
    unmatched_labels = list(dict.fromkeys([*pairs, *unmatched]))[:MAX_UNMATCHED_LABELS]
    return {
        "group_key": old.get("group_key") or new.get("group_key"),
        "receiver": old.get("receiver") or new.get("receiver"),
        "external_url": old.get("external_url") or new.get("external_url"),
        "generator_url": old.get("generator_url") or new.get("generator_url"),
        "group_labels": _union(old.get("group_labels"), new.get("group_labels") or {}),
        "common_labels": _union(old.get("common_labels"), new.get("common_labels") or {}),
        "common_annotations": _union(
            old.get("common_annotations"), new.get("common_annotations") or {}
        ),
        "unmatched_labels": [{"label": label, "value": value} for label, value in unmatched_labels],
        "fingerprints": fingerprints,
        "alerts": alerts,
    }
