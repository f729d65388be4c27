"""Scoring a change as a suspect for an incident: a product of five factors, each in (0, 1].

``score = time * relation * environment * change type * risk``

A product, because the evidence is conjunctive: a change that is recent *and* on the incident's
service *and* in its environment is far more suspicious than one that has any single property.
Each factor is at most 1, so the score stays in [0, 1] and a perfect suspect (a critical,
rollback-prone change to the same service, in the same environment, at the moment the incident
started) scores 1. Every factor adds one human-readable reason, so a user can see why a change
ranks where it does and disagree with it.

The defaults below were chosen on the labelled scenarios in ``tests.api.correlation.scenarios``
(see ``docs/correlation.md``); ``Weights`` lets a caller change any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from changetrail_api.correlation.links import Link, Relation, link
from changetrail_api.correlation.model import CandidateChange, IncidentFacts, Suspect
from changetrail_api.domain import ChangeType, Outcome, RiskLevel

# Types that break things when they go wrong and are undone by rolling back. A rollback itself
# is usually the cure, and scaling is more often the system reacting to load than a cause.
_TYPE_WEIGHTS: dict[str, float] = {
    ChangeType.DEPLOYMENT: 1.0,
    ChangeType.DATABASE_MIGRATION: 1.0,
    ChangeType.CONFIG_CHANGE: 0.95,
    ChangeType.FEATURE_FLAG: 0.9,
    ChangeType.INFRASTRUCTURE: 0.85,
    ChangeType.SECURITY_PATCH: 0.75,
    ChangeType.CODE: 0.6,
    ChangeType.OTHER: 0.5,
    ChangeType.SCALING: 0.4,
    ChangeType.ROLLBACK: 0.3,
}
_RISK_WEIGHTS: dict[str, float] = {
    RiskLevel.LOW: 0.7,
    RiskLevel.MEDIUM: 0.8,
    RiskLevel.HIGH: 0.9,
    RiskLevel.CRITICAL: 1.0,
}
_RELATION_WEIGHTS = {
    Relation.SAME_SERVICE: 1.0,
    Relation.WORKLOAD: 0.9,
    Relation.CONSUMER: 0.85,
    Relation.NAMESPACE: 0.6,
    # The incident names no service: relation says nothing either way.
    Relation.NO_INCIDENT_SERVICE: 0.5,
    # Shared infrastructure is often recorded without a service and can break any of them.
    Relation.UNKNOWN_SERVICE: 0.3,
    Relation.OTHER_SERVICE: 0.1,
}
ROLLBACK_PRONE = 0.9  # a type weight at or above this reads as "rollback-prone"


@dataclass(frozen=True, slots=True)
class Weights:
    """Every tunable number of the score; the defaults are the documented ones."""

    # Time before the start at which the time factor has halved: f = 1 / (1 + Δ / half_time).
    # Hyperbolic rather than exponential so a change from the morning still registers when
    # nothing closer explains the incident.
    half_time: timedelta = timedelta(minutes=60)
    # After the start a change is more likely a response (rollback, scale-up) than the cause,
    # but clocks drift and records lag, so it keeps a small weight that fades quickly.
    after_start_weight: float = 0.2
    after_start_half_time: timedelta = timedelta(minutes=10)
    other_environment: float = 0.2
    types: Mapping[str, float] = field(default_factory=lambda: MappingProxyType(_TYPE_WEIGHTS))
    unknown_type: float = 0.5
    risks: Mapping[str, float] = field(default_factory=lambda: MappingProxyType(_RISK_WEIGHTS))
    unknown_risk: float = 0.7
    relations: Mapping[Relation, float] = field(
        default_factory=lambda: MappingProxyType(_RELATION_WEIGHTS)
    )
    # A rollout its controller reported as failed is evidence beyond anyone's declared risk:
    # its risk factor is this, whatever risk_level says.
    failed_rollout: float = 1.0


DEFAULT_WEIGHTS = Weights()


def describe_duration(delta: timedelta) -> str:
    """``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``: precise enough to compare suspects."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def time_factor(
    incident: IncidentFacts, change: CandidateChange, weights: Weights
) -> tuple[float, str]:
    start = incident.started_at
    if change.occurred_at <= start and change.ended_at is not None and change.ended_at >= start:
        return 1.0, "rollout in progress when the incident started"
    if change.occurred_at <= start and change.ended_at is None and change.outcome == "in_progress":
        # Followed by its producer and not over yet: it spans the start as well.
        return 1.0, "rollout in progress when the incident started"
    if change.occurred_at <= start:
        before = start - change.occurred_at
        factor = 1.0 / (1.0 + before / weights.half_time)
        return factor, f"{describe_duration(before)} before start"
    after = change.occurred_at - start
    factor = weights.after_start_weight / (1.0 + after / weights.after_start_half_time)
    return factor, f"{describe_duration(after)} after start (more often a response than a cause)"


_RELATION_REASONS = {
    Relation.SAME_SERVICE: "same service",
    Relation.NO_INCIDENT_SERVICE: "incident names no service",
    Relation.UNKNOWN_SERVICE: "no service recorded (may be shared infrastructure)",
    Relation.OTHER_SERVICE: "different service",
}


def _relation_reason(found: Link, change: CandidateChange) -> str:
    if found.relation is Relation.CONSUMER:
        return f"config change to a workload of the service ({found.via})"
    if found.relation is Relation.WORKLOAD:
        noun = "config change" if change.change_type == ChangeType.CONFIG_CHANGE else "change"
        return f"{noun} to a workload of the service ({found.via})"
    if found.relation is Relation.NAMESPACE:
        return f"in the service's namespace ({found.via})"
    return _RELATION_REASONS[found.relation]


def relation_factor(
    incident: IncidentFacts, change: CandidateChange, weights: Weights
) -> tuple[float, str]:
    found = link(change, incident.services)
    return weights.relations.get(found.relation, 0.1), _relation_reason(found, change)


def environment_factor(
    incident: IncidentFacts, change: CandidateChange, weights: Weights
) -> tuple[float, str | None]:
    if incident.environment is None or change.environment is None:
        return 1.0, None
    if change.environment == incident.environment:
        return 1.0, f"same environment ({change.environment})"
    return weights.other_environment, f"different environment ({change.environment})"


def type_factor(change: CandidateChange, weights: Weights) -> tuple[float, str]:
    factor = weights.types.get(change.change_type, weights.unknown_type)
    if factor >= ROLLBACK_PRONE:
        return factor, f"rollback-prone type: {change.change_type}"
    if change.change_type == ChangeType.ROLLBACK:
        return factor, "type rollback (usually a fix, not a cause)"
    return factor, f"type: {change.change_type}"


def risk_factor(change: CandidateChange, weights: Weights) -> tuple[float, str]:
    factor = weights.risks.get(change.risk_level, weights.unknown_risk)
    if change.outcome == Outcome.FAILED and weights.failed_rollout > factor:
        return weights.failed_rollout, f"failed rollout (risk_level {change.risk_level})"
    return factor, f"risk_level {change.risk_level}"


def score(
    incident: IncidentFacts, change: CandidateChange, weights: Weights = DEFAULT_WEIGHTS
) -> Suspect:
    """How suspicious one change is for one incident, with the reasons, strongest first."""
    relation, relation_reason = relation_factor(incident, change, weights)
    timing, timing_reason = time_factor(incident, change, weights)
    environment, environment_reason = environment_factor(incident, change, weights)
    kind, kind_reason = type_factor(change, weights)
    risk, risk_reason = risk_factor(change, weights)
    reasons = [relation_reason, timing_reason, environment_reason, kind_reason, risk_reason]
    value = relation * timing * environment * kind * risk
    return Suspect(
        change_id=change.id,
        score=round(min(1.0, max(0.0, value)), 4),
        reasons=tuple(reason for reason in reasons if reason),
    )


def rank(
    incident: IncidentFacts,
    changes: Iterable[CandidateChange],
    weights: Weights = DEFAULT_WEIGHTS,
) -> list[Suspect]:
    """Every change scored, most suspicious first.

    Ties go to the change closest to the start, then to the smaller id, so the order is stable.
    """
    scored = [(score(incident, change, weights), change) for change in changes]
    scored.sort(
        key=lambda pair: (
            -pair[0].score,
            abs((incident.started_at - pair[1].occurred_at).total_seconds()),
            pair[1].id,
        )
    )
    return [suspect for suspect, _ in scored]
