"""Which changes a channel receives: its rules, field by field."""

from __future__ import annotations

import pytest

from changetrail_api.channels.rules import Rule, matches, outcome_of, selects
from tests.channels.factories import change


class TestOneRule:
    def test_an_empty_rule_selects_every_change(self) -> None:
        assert matches(Rule(), change())

    @pytest.mark.parametrize("service", ["payments", "svc_payments"])
    def test_a_service_is_named_by_name_or_id(self, service: str) -> None:
        assert matches(Rule(services=[service]), change())
        assert not matches(Rule(services=[service]), change(service_id=None, service_name=None))

    def test_values_of_one_field_are_alternatives(self) -> None:
        rule = Rule(environments=["staging", "production"])
        assert matches(rule, change(environment="staging"))
        assert matches(rule, change(environment="production"))
        assert not matches(rule, change(environment="development"))

    def test_fields_of_one_rule_must_all_match(self) -> None:
        rule = Rule(environments=["production"], change_types=["rollback"])
        assert not matches(rule, change(change_type="deployment"))
        assert matches(rule, change(change_type="rollback"))

    def test_change_type_and_source(self) -> None:
        assert matches(Rule(change_types=["deployment"], sources=["kubernetes"]), change())
        assert not matches(Rule(sources=["github"]), change())

    @pytest.mark.parametrize(
        ("risk", "selected"),
        [("low", False), ("medium", False), ("high", True), ("critical", True)],
    )
    def test_min_risk_selects_that_level_and_above(self, risk: str, selected: bool) -> None:
        assert matches(Rule(min_risk="high"), change(risk_level=risk)) is selected

    def test_cluster_and_namespace_come_from_tags(self) -> None:
        assert matches(Rule(clusters=["eu-1"], namespaces=["payments"]), change())
        assert not matches(Rule(clusters=["us-1"]), change())
        assert not matches(Rule(namespaces=["shop"]), change())
        assert not matches(Rule(clusters=["eu-1"]), change(tags=[]))

    def test_tags_must_all_be_present(self) -> None:
        assert matches(Rule(tags=["kind:Deployment", "cluster:eu-1"]), change())
        assert not matches(Rule(tags=["kind:Deployment", "restart"]), change())


class TestOutcome:
    def test_an_outcome_rule_reads_details_outcome(self) -> None:
        failed = change(details={"outcome": "failed", "reason": "ProgressDeadlineExceeded"})
        assert outcome_of(failed) == "failed"
        assert matches(Rule(outcomes=["failed"]), failed)
        assert not matches(Rule(outcomes=["failed"]), change(details={"outcome": "succeeded"}))

    def test_a_change_without_an_outcome_does_not_match_an_outcome_rule(self) -> None:
        assert outcome_of(change()) is None
        assert not matches(Rule(outcomes=["failed"]), change())
        assert not matches(Rule(outcomes=["failed"]), change(details={"outcome": 3}))

    def test_the_changes_own_outcome_wins_over_details(self) -> None:
        completed = change(outcome="failed", details={"outcome": "succeeded"})
        assert outcome_of(completed) == "failed"
        assert matches(Rule(outcomes=["failed"]), completed)
        assert outcome_of(change(outcome=None, details={"outcome": "succeeded"})) == "succeeded"


class TestSeveralRules:
    def test_no_rules_select_everything(self) -> None:
        assert selects([], change())

    def test_any_rule_selects(self) -> None:
        rules = [
            Rule(environments=["production"], change_types=["deployment"]),
            Rule(outcomes=["failed"]),
        ]
        assert selects(rules, change())
        assert selects(rules, change(environment="staging", details={"outcome": "failed"}))
        assert not selects(rules, change(environment="staging"))


def test_rules_reject_unknown_fields_and_values() -> None:
    with pytest.raises(ValueError, match="extra"):
        Rule.model_validate({"service": ["payments"]})
    with pytest.raises(ValueError, match="min_risk"):
        Rule.model_validate({"min_risk": "severe"})
    with pytest.raises(ValueError, match="outcomes"):
        Rule.model_validate({"outcomes": ["exploded"]})
