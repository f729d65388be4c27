"""Which changes a channel receives: pure functions over a change and a channel's rules.

A channel holds a list of rules and receives a change when any rule selects it; no rules at all
selects everything. Inside one rule every field that is set must match (AND), and a field
matches when the change has any of the listed values (OR). So "production deploys, or any
failed rollout anywhere" is two rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from changetrail_api.changes.schemas import ChangeOut
from changetrail_api.domain import ChangeType, Outcome, RiskLevel

RISK_ORDER: dict[str, int] = {str(level): rank for rank, level in enumerate(RiskLevel)}


Value = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Values = Annotated[list[Value], Field(max_length=50)]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    services: Values = Field(default_factory=list, description="service ids or names")
    environments: Values = Field(default_factory=list)
    change_types: Annotated[list[ChangeType], Field(max_length=20)] = Field(default_factory=list)
    sources: Values = Field(default_factory=list)
    min_risk: RiskLevel | None = Field(default=None, description="this risk level or higher")
    clusters: Values = Field(default_factory=list, description="matches the cluster:<name> tag")
    namespaces: Values = Field(default_factory=list, description="matches the namespace:<name> tag")
    tags: Values = Field(default_factory=list, description="the change has all of these tags")
    outcomes: Annotated[list[Outcome], Field(max_length=5)] = Field(
        default_factory=list,
        description="the change's outcome (or details.outcome) is one of these",
    )


def outcome_of(change: ChangeOut) -> str | None:
    """The change's outcome: its own ``outcome`` field, else what a producer put in
    ``details.outcome`` (sources that record a rollout's end only in the details)."""
    if change.outcome:
        return change.outcome
    details: dict[str, Any] = change.details or {}
    found = details.get("outcome")
    return found if isinstance(found, str) and found else None


def _tag_values(tags: Sequence[str], prefix: str) -> set[str]:
    return {tag[len(prefix) :] for tag in tags if tag.startswith(prefix)}


def matches(rule: Rule, change: ChangeOut) -> bool:
    """Whether this one rule selects the change."""
    if rule.services and not (
        change.service_id in rule.services or change.service_name in rule.services
    ):
        return False
    if rule.environments and change.environment not in rule.environments:
        return False
    if rule.change_types and change.change_type not in rule.change_types:
        return False
    if rule.sources and change.source not in rule.sources:
        return False
    if (
        rule.min_risk is not None
        and RISK_ORDER.get(change.risk_level, -1) < RISK_ORDER[rule.min_risk]
    ):
        return False
    if rule.clusters and not _tag_values(change.tags, "cluster:") & set(rule.clusters):
        return False
    if rule.namespaces and not _tag_values(change.tags, "namespace:") & set(rule.namespaces):
        return False
    if rule.tags and not set(rule.tags) <= set(change.tags):
        return False
    return not rule.outcomes or outcome_of(change) in rule.outcomes


def selects(rules: Sequence[Rule], change: ChangeOut) -> bool:
    """Whether a channel with these rules receives the change."""
    return not rules or any(matches(rule, change) for rule in rules)
