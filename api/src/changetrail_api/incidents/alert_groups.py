"""Alertmanager's webhook payload (version 4) and what one notification says about its group.

Pure: no database, no request. ``interpret`` turns a validated payload into an ``AlertGroup``
(title, severity, environment, start and end, the label values that may name services, and
each alert as Alertmanager reported it); the rules in ``episodes.py`` decide which incident
that belongs to and what it changes there.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from changetrail_api.incidents.schemas import SEVERITY_ORDER, Severity

# Label names whose values may name a service, most specific first. Prometheus turns
# ``app.kubernetes.io/name`` into ``app_kubernetes_io_name`` when it relabels pod labels.
DEFAULT_SERVICE_LABELS = ("service", "app", "app_kubernetes_io_name", "namespace", "job")
ENVIRONMENT_LABELS = ("environment", "env")
MAX_SERVICE_VALUES = 20
MAX_FINGERPRINTS = 100
# Labels kept per alert, and alerts kept per notification for display. What identifies an
# episode is not capped this way (see ``episodes.MAX_TRACKED_ALERTS``).
MAX_ALERT_LABELS = 30
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}$")
# Instants an alert may start at: what the API records at all (Python's calendar ends at
# years 1 and 9999, and windows around a start must stay computable).
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(3000, 1, 1, tzinfo=UTC)

_SEVERITY_WORDS = {
    Severity.CRITICAL: ("critical", "crit", "page", "emergency", "fatal", "p1", "sev1"),
    Severity.HIGH: ("high", "error", "err", "major", "p2", "sev2"),
    Severity.MEDIUM: ("warning", "warn", "medium", "minor", "p3", "sev3"),
    Severity.LOW: ("info", "low", "none", "notice", "p4", "p5", "sev4"),
}
_SEVERITIES = {word: level for level, words in _SEVERITY_WORDS.items() for word in words}


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

    @field_validator("startsAt")
    @classmethod
    def _recordable_start(cls, value: datetime) -> datetime:
        start = _in_range(value)
        if start is None:
            raise ValueError("must be from 1970-01-01T00:00:00Z to 2999-12-31T23:59:59Z")
        return start

    @field_validator("endsAt")
    @classmethod
    def _known_end(cls, value: datetime | None) -> datetime | None:
        # Alertmanager's zero time ("0001-01-01T00:00:00Z") means "not ended"; so does any end
        # outside what can be recorded, rather than refusing the whole notification for it.
        return None if value is None else _in_range(value)


def _in_range(value: datetime) -> datetime | None:
    """``value`` in UTC when it lies in [1970, 3000), else None (naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        return None
    return moment if _EARLIEST <= moment < _LATEST else None


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
class SeenAlert:
    """One alert of a notification: which alert (fingerprint) and which firing of it (start)."""

    fingerprint: str
    starts_at: datetime
    # Set once the alert has resolved; Alertmanager's zero time and firing alerts have none.
    ends_at: datetime | None
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = field(default_factory=dict)


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
    # Every alert of the notification, earliest start first (ties by fingerprint).
    alerts: tuple[SeenAlert, ...] = ()


def _clip(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _small(labels: dict[str, str], limit: int = 50) -> dict[str, str]:
    return {_clip(k, 100): _clip(v) for k, v in list(sorted(labels.items()))[:limit]}


def label_fingerprint(labels: dict[str, str]) -> str:
    """A stable stand-in for Alertmanager's fingerprint when a sender leaves it out.

    Alertmanager hashes the sorted label set; any stable hash of it identifies the alert as well.
    """
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _ended(alert: Alert) -> datetime | None:
    return alert.endsAt if alert.status == "resolved" else None


def seen_alerts(payload: AlertmanagerPayload) -> tuple[SeenAlert, ...]:
    """The notification's alerts, earliest first; one entry per (fingerprint, start)."""
    found: dict[tuple[str, datetime], SeenAlert] = {}
    for alert in payload.alerts:
        fingerprint = _clip(alert.fingerprint or "", 64) or label_fingerprint(alert.labels)
        seen = SeenAlert(
            fingerprint=fingerprint,
            starts_at=alert.startsAt,
            ends_at=_ended(alert),
            status=alert.status,
            labels=_small(alert.labels, MAX_ALERT_LABELS),
        )
        found.setdefault((seen.fingerprint, seen.starts_at), seen)
    return tuple(sorted(found.values(), key=lambda a: (a.starts_at, a.fingerprint)))


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
            # Longer values cannot be a service name (200 characters at most).
            if value and len(value) <= 200 and len(found) < MAX_SERVICE_VALUES:
                found.setdefault((label, value), None)
    return tuple(found)


def interpret(
    payload: AlertmanagerPayload, label_names: tuple[str, ...], now: datetime
) -> AlertGroup:
    alerts = seen_alerts(payload)
    started_at = alerts[0].starts_at
    ended_at = None
    if payload.status == "resolved":
        ends = [alert.ends_at for alert in alerts if alert.ends_at is not None]
        ended_at = max(max(ends) if ends else now, started_at)
    environment = next(
        (
            labels[name]
            for name in ENVIRONMENT_LABELS
            for labels in [payload.commonLabels, *(a.labels for a in payload.alerts)]
            if labels.get(name)
        ),
        None,
    )
    fingerprints = tuple(dict.fromkeys(a.fingerprint for a in alerts))[:MAX_FINGERPRINTS]
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
            "receiver": _clip(payload.receiver or "", 200) or None,
            "external_url": _clip(payload.externalURL or "", 2048) or None,
            "group_labels": _small(payload.groupLabels),
            "common_labels": _small(payload.commonLabels),
            "common_annotations": _small(payload.commonAnnotations),
            "generator_url": _clip(payload.alerts[0].generatorURL or "", 2048) or None,
        },
        alerts=alerts,
    )


def parse_label_names(value: str | None) -> tuple[str, ...]:
    """The ``service_labels`` query parameter; the defaults when absent."""
    if value is None:
        return DEFAULT_SERVICE_LABELS
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    bad = [n for n in names if not _LABEL_NAME.match(n)]
    if bad or not names or len(names) > 20:
        raise ValueError("expected a comma-separated list of up to 20 Prometheus label names")
    return names
