"""Alertmanager's webhook payload (version 4) and what one notification says about its group.

Pure: no database, no request. ``interpret`` turns a validated payload into an ``AlertGroup``
(title, severity, environment, start and end, the label values that may name services); the
rules in ``alert_episodes.py`` decide what that does to incidents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from changetrail_api.incidents.schemas import SEVERITY_ORDER, Severity

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
            # Longer values cannot be a service name (200 characters at most).
            if value and len(value) <= 200 and len(found) < MAX_SERVICE_VALUES:
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
            "receiver": _clip(payload.receiver or "", 200) or None,
            "external_url": _clip(payload.externalURL or "", 2048) or None,
            "group_labels": _small(payload.groupLabels),
            "common_labels": _small(payload.commonLabels),
            "common_annotations": _small(payload.commonAnnotations),
            "generator_url": _clip(payload.alerts[0].generatorURL or "", 2048) or None,
        },
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
