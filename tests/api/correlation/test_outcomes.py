"""A rollout's outcome in the score: a failed one is more suspicious, a running one spans."""

from __future__ import annotations

from dataclasses import replace

from changetrail_api.correlation import Weights, score
from changetrail_api.domain import ChangeType, RiskLevel
from tests.api.correlation.scenarios import change, incident


def test_a_failed_rollout_scores_higher_than_the_same_rollout_that_succeeded() -> None:
    facts = incident("checkout")
    rollout = change("r", -30, "checkout", ChangeType.DEPLOYMENT, RiskLevel.LOW)

    succeeded = score(facts, replace(rollout, outcome="succeeded"))
    failed = score(facts, replace(rollout, outcome="failed"))

    assert failed.score > succeeded.score
    assert failed.score == round(succeeded.score / 0.7, 4), "risk counted as critical"
    assert "failed rollout (risk_level low)" in failed.reasons
    assert "risk_level low" in succeeded.reasons


def test_a_failed_rollout_outranks_a_riskier_successful_one_of_the_same_moment() -> None:
    facts = incident("checkout")
    failed = replace(change("failed", -20, "checkout"), outcome="failed")
    risky = replace(change("risky", -20, "checkout", risk=RiskLevel.HIGH), outcome="succeeded")

    assert score(facts, failed).score > score(facts, risky).score


def test_the_failed_rollout_weight_is_tunable() -> None:
    failed = replace(change("f", -10, "checkout"), outcome="failed")
    plain = score(incident("checkout"), failed, Weights(failed_rollout=0.0))
    assert "risk_level low" in plain.reasons


def test_a_rollout_still_in_progress_spans_the_start() -> None:
    facts = incident("checkout")
    running = replace(change("run", -90, "checkout"), outcome="in_progress")
    over = replace(change("over", -90, "checkout"), outcome="succeeded")

    assert "rollout in progress when the incident started" in score(facts, running).reasons
    assert score(facts, running).score > score(facts, over).score
