from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from changetrail_api.correlation import (
    CandidateChange,
    IncidentFacts,
    KubernetesRef,
    Weights,
    describe_duration,
    rank,
    score,
)
from changetrail_api.domain import ChangeType, RiskLevel
from tests.api.correlation.scenarios import SERVICES, T0, change, incident

D = ChangeType.DEPLOYMENT


def test_a_perfect_suspect_scores_one() -> None:
    suspect = score(incident("checkout"), change("c", 0, "checkout", D, RiskLevel.CRITICAL))
    assert suspect.score == 1.0


def test_reasons_name_service_time_environment_type_and_risk() -> None:
    suspect = score(incident("checkout"), change("c", -12, "checkout", D, RiskLevel.HIGH))
    assert suspect.reasons == (
        "same service",
        "12 min before start",
        "same environment (production)",
        "rollback-prone type: deployment",
        "risk_level high",
    )


def test_a_closer_change_scores_higher_than_an_older_one_all_else_equal() -> None:
    facts = incident("checkout")
    near = score(facts, change("near", -10, "checkout"))
    far = score(facts, change("far", -300, "checkout"))
    assert near.score > far.score


def test_the_time_factor_halves_after_the_half_time() -> None:
    facts = incident("checkout")
    at_start = score(facts, change("now", 0, "checkout"), Weights())
    one_hour = score(facts, change("hour", -60, "checkout"), Weights())
    assert one_hour.score == pytest.approx(at_start.score / 2, abs=1e-4)


def test_a_change_after_the_start_reads_as_a_response() -> None:
    suspect = score(incident("auth"), change("late", 5, "auth"))
    assert "5 min after start (more often a response than a cause)" in suspect.reasons
    assert suspect.score < score(incident("auth"), change("early", -60, "auth")).score


def test_a_rollout_spanning_the_start_counts_as_no_time_before_it() -> None:
    rolling = change("rolling", -50, "search", lasts_minutes=55)
    suspect = score(incident("search"), rolling)
    assert "rollout in progress when the incident started" in suspect.reasons
    assert suspect.score == score(incident("search"), change("now", 0, "search")).score


def test_another_environment_weighs_less_and_says_so() -> None:
    facts = incident("payments")
    staging = score(facts, change("s", -5, "payments", environment="staging"))
    production = score(facts, change("p", -5, "payments"))
    assert "different environment (staging)" in staging.reasons
    assert staging.score < production.score


def test_an_incident_without_environment_treats_every_environment_alike() -> None:
    facts = incident("payments", environment=None)
    staging = score(facts, change("s", -5, "payments", environment="staging"))
    production = score(facts, change("p", -5, "payments"))
    assert staging.score == production.score


def test_another_service_weighs_less_than_the_same_service() -> None:
    facts = incident("checkout")
    other = score(facts, change("o", -5, "search"))
    same = score(facts, change("s", -5, "checkout"))
    assert "different service" in other.reasons
    assert other.score < same.score


def test_a_config_map_consumed_by_a_workload_of_the_service_links_to_it() -> None:
    ref = KubernetesRef("payments", "ConfigMap", "api-config", ("payments/api",))
    config = change("cfg", -25, None, ChangeType.CONFIG_CHANGE, kubernetes=ref)
    suspect = score(incident("payments"), config)
    assert suspect.reasons[0] == "config change to a workload of the service (api)"


def test_a_consumer_in_another_namespace_does_not_link() -> None:
    ref = KubernetesRef("elsewhere", "ConfigMap", "api-config", ("elsewhere/api",))
    config = change("cfg", -25, None, ChangeType.CONFIG_CHANGE, kubernetes=ref)
    assert score(incident("payments"), config).reasons[0].startswith("no service recorded")


def test_a_change_to_a_workload_of_the_service_links_to_it() -> None:
    ref = KubernetesRef("payments", "Deployment", "worker")
    suspect = score(incident("payments"), change("w", -5, None, kubernetes=ref))
    assert suspect.reasons[0] == "change to a workload of the service (worker)"


def test_a_namespace_of_the_service_is_a_weaker_link() -> None:
    ref = KubernetesRef("search", "Deployment", "batch-loader")
    by_namespace = score(incident("search"), change("n", -5, None, kubernetes=ref))
    same = score(incident("search"), change("s", -5, "search"))
    assert by_namespace.reasons[0] == "in the service's namespace (search)"
    assert by_namespace.score < same.score


def test_rollback_and_scaling_weigh_less_than_a_deployment() -> None:
    facts = incident("ledger")
    deploy = score(facts, change("d", -5, "ledger", D)).score
    rollback = score(facts, change("r", -5, "ledger", ChangeType.ROLLBACK)).score
    scaling = score(facts, change("s", -5, "ledger", ChangeType.SCALING)).score
    assert deploy > scaling > rollback


def test_higher_risk_scores_higher() -> None:
    facts = incident("ledger")
    levels = [RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.CRITICAL]
    scores = [score(facts, change("c", -5, "ledger", D, level)).score for level in levels]
    assert scores == sorted(scores)
    assert len(set(scores)) == len(scores)


def test_unknown_type_and_risk_values_still_score() -> None:
    odd = CandidateChange("odd", "mystery", "extreme", T0 - timedelta(minutes=5))
    suspect = score(IncidentFacts(started_at=T0), odd)
    assert 0 < suspect.score < 1
    assert "type: mystery" in suspect.reasons


def test_rank_orders_by_score_then_closeness_then_id() -> None:
    facts = incident("checkout")
    changes = [
        change("b", -10, "checkout"),
        change("a", -10, "checkout"),
        change("far", -600, "checkout"),
        change("other", -1, "search"),
    ]
    assert [s.change_id for s in rank(facts, changes)] == ["a", "b", "other", "far"]


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=42), "42 s"),
        (timedelta(minutes=12, seconds=30), "12 min"),
        (timedelta(hours=3), "3 h"),
        (timedelta(hours=3, minutes=5), "3 h 5 min"),
        (timedelta(days=2, hours=4), "2 d 4 h"),
    ],
)
def test_durations_read_naturally(delta: timedelta, text: str) -> None:
    assert describe_duration(delta) == text


@given(
    minutes=st.floats(min_value=-7 * 24 * 60, max_value=24 * 60),
    change_type=st.sampled_from(list(ChangeType)),
    risk=st.sampled_from(list(RiskLevel)),
    service=st.sampled_from([None, *SERVICES]),
    environment=st.sampled_from(["production", "staging"]),
)
def test_every_score_lies_between_zero_and_one(
    minutes: float,
    change_type: ChangeType,
    risk: RiskLevel,
    service: str | None,
    environment: str,
) -> None:
    suspect = score(
        incident("checkout"), change("x", minutes, service, change_type, risk, environment)
    )
    assert 0.0 <= suspect.score <= 1.0
    assert suspect.reasons


@given(
    nearer=st.floats(min_value=0, max_value=24 * 60),
    extra=st.floats(min_value=0, max_value=24 * 60),
    change_type=st.sampled_from(list(ChangeType)),
    service=st.sampled_from([None, *SERVICES]),
)
def test_an_earlier_change_never_scores_higher_than_the_same_change_later(
    nearer: float, extra: float, change_type: ChangeType, service: str | None
) -> None:
    facts = incident("checkout")
    near = score(facts, change("near", -nearer, service, change_type))
    far = score(facts, change("far", -(nearer + extra), service, change_type))
    assert far.score <= near.score
