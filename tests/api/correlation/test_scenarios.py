"""The accuracy floor on the labelled scenarios: a regression here is a worse product."""

from __future__ import annotations

from tests.api.correlation.evaluation import evaluate, recency_baseline
from tests.api.correlation.scenarios import build


def test_every_scenario_has_exactly_one_cause_among_many_changes() -> None:
    for scenario in build():
        ids = [c.id for c in scenario.changes]
        assert len(ids) == len(set(ids)), scenario.name
        assert ids.count(scenario.cause_id) == 1
        assert len(ids) >= 50


def test_the_cause_is_in_the_top_three_in_every_scenario() -> None:
    ranks = evaluate(build()).ranks
    assert {name: r for name, r in ranks.items() if r > 3} == {}


def test_the_cause_ranks_first_in_most_scenarios() -> None:
    assert evaluate(build()).top(1) >= 0.85


def test_the_score_beats_reading_the_change_log_backwards() -> None:
    scored, baseline = evaluate(build()), evaluate(build(), recency_baseline)
    assert scored.top(1) > baseline.top(1)
    assert scored.top(3) > baseline.top(3)
