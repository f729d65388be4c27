"""Top-k accuracy of a ranking over the labelled scenarios, and the baseline it must beat."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from changetrail_api.correlation.model import CandidateChange, IncidentFacts
from changetrail_api.correlation.scoring import rank
from tests.api.correlation.scenarios import Scenario

Ranker = Callable[[IncidentFacts, Sequence[CandidateChange]], list[str]]


def scored_ranking(incident: IncidentFacts, changes: Sequence[CandidateChange]) -> list[str]:
    return [suspect.change_id for suspect in rank(incident, changes)]


def recency_baseline(incident: IncidentFacts, changes: Sequence[CandidateChange]) -> list[str]:
    """What people do without a score: read the change log backwards from the start."""
    before = [c for c in changes if c.occurred_at <= incident.started_at]
    after = [c for c in changes if c.occurred_at > incident.started_at]
    before.sort(key=lambda c: incident.started_at - c.occurred_at)
    after.sort(key=lambda c: c.occurred_at - incident.started_at)
    return [c.id for c in before + after]


@dataclass(frozen=True, slots=True)
class Evaluation:
    # 1-based rank of the causing change in each scenario, by scenario name.
    ranks: dict[str, int]

    def top(self, k: int) -> float:
        if not self.ranks:
            return 0.0
        return sum(1 for r in self.ranks.values() if r <= k) / len(self.ranks)


def evaluate(scenarios: Sequence[Scenario], ranker: Ranker = scored_ranking) -> Evaluation:
    ranks = {}
    for scenario in scenarios:
        order = ranker(scenario.incident, scenario.changes)
        ranks[scenario.name] = order.index(scenario.cause_id) + 1
    return Evaluation(ranks)
