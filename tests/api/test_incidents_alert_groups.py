"""What one Alertmanager notification says about its group (pure: no database, no app)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from changetrail_api.incidents.alert_groups import (
    DEFAULT_SERVICE_LABELS,
    AlertGroup,
    AlertmanagerPayload,
    interpret,
    parse_label_names,
)
from changetrail_api.incidents.schemas import Severity
from tests.api.test_incidents_factories import alert, notification

NOW = datetime(2026, 3, 30, 16, 0, tzinfo=UTC)


def group_of(
    payload: dict[str, Any], labels: tuple[str, ...] = DEFAULT_SERVICE_LABELS
) -> AlertGroup:
    return interpret(AlertmanagerPayload.model_validate(payload), labels, NOW)


def test_the_group_starts_with_its_earliest_alert_and_ends_with_its_latest() -> None:
    group = group_of(
        notification(
            alert(
                status="resolved", starts_at="2026-03-30T15:05:00Z", ends_at="2026-03-30T15:30:00Z"
            ),
            alert(
                status="resolved",
                starts_at="2026-03-30T15:00:00.123456789Z",
                ends_at="2026-03-30T15:20:00Z",
                fingerprint="ff",
            ),
            status="resolved",
        )
    )
    assert group.started_at == datetime(2026, 3, 30, 15, 0, 0, 123456, tzinfo=UTC)
    assert group.ended_at == datetime(2026, 3, 30, 15, 30, tzinfo=UTC)


def test_a_firing_group_has_no_end_even_with_alertmanagers_zero_time() -> None:
    assert group_of(notification()).ended_at is None


def test_a_resolved_group_without_end_times_ends_now() -> None:
    resolved = notification(alert(status="resolved"), status="resolved")
    assert group_of(resolved).ended_at == NOW


def test_service_candidates_follow_label_order_and_skip_repeats() -> None:
    payload = notification(
        alert(namespace="shop", app="checkout"),
        alert(namespace="shop", app="cart", fingerprint="ff"),
        common_labels={"alertname": "HighErrorRate", "namespace": "shop"},
    )
    assert group_of(payload).service_candidates == (
        ("app", "checkout"),
        ("app", "cart"),
        ("namespace", "shop"),
    )


def test_the_title_joins_alert_name_and_summary() -> None:
    assert group_of(notification()).title == "HighErrorRate: 5xx above 5%"


def test_a_group_without_name_or_summary_still_has_a_title() -> None:
    payload = notification(common_labels={})
    payload["groupLabels"], payload["commonAnnotations"] = {}, {}
    payload["alerts"][0]["labels"], payload["alerts"][0]["annotations"] = {}, {}
    assert group_of(payload).title == "Alertmanager alert group"


def test_the_highest_severity_of_any_alert_wins() -> None:
    payload = notification(alert(severity="warning"), alert(severity="critical", fingerprint="f"))
    assert group_of(payload).severity is Severity.CRITICAL


def test_unknown_severity_words_mean_medium() -> None:
    assert group_of(notification(alert(severity="spicy"))).severity is Severity.MEDIUM


def test_the_environment_comes_from_an_environment_or_env_label() -> None:
    assert group_of(notification(alert(env="staging"))).environment == "staging"
    assert group_of(notification()).environment is None


def test_details_keep_the_group_key_labels_and_fingerprints() -> None:
    group = group_of(notification(alert(), alert(fingerprint="ff01")))
    assert group.details["group_key"] == '{}:{alertname="HighErrorRate"}'
    assert group.details["common_labels"] == {"alertname": "HighErrorRate"}
    assert group.fingerprints == ("a1b2c3d4e5f60718", "ff01")


@pytest.mark.parametrize(
    ("value", "names"),
    [
        (None, DEFAULT_SERVICE_LABELS),
        ("service", ("service",)),
        (" team , app,team ", ("team", "app")),
    ],
)
def test_service_label_names_parse(value: str | None, names: tuple[str, ...]) -> None:
    assert parse_label_names(value) == names


@pytest.mark.parametrize(
    "value", ["", ",", "app.kubernetes.io/name", "9lives", ",".join(f"l{i}" for i in range(21))]
)
def test_invalid_service_label_names_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="Prometheus label names"):
        parse_label_names(value)
