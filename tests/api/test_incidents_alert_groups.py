"""What one Alertmanager notification says about its group (pure: no database, no app)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

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


def test_each_alert_is_seen_with_its_fingerprint_start_and_end_earliest_first() -> None:
    group = group_of(
        notification(
            alert(starts_at="2026-03-30T15:05:00Z", fingerprint="late"),
            alert(
                status="resolved",
                starts_at="2026-03-30T16:00:00+01:00",
                ends_at="2026-03-30T15:04:00Z",
                instance="web-2",
            ),
        )
    )
    assert [(a.fingerprint, a.starts_at, a.ends_at, a.status) for a in group.alerts] == [
        (
            "a1b2c3d4e5f60718",
            datetime(2026, 3, 30, 15, 0, tzinfo=UTC),
            datetime(2026, 3, 30, 15, 4, tzinfo=UTC),
            "resolved",
        ),
        ("late", datetime(2026, 3, 30, 15, 5, tzinfo=UTC), None, "firing"),
    ]
    assert group.alerts[0].labels["instance"] == "web-2"


@pytest.mark.parametrize(
    "starts_at", ["0001-01-01T00:00:00+01:00", "1969-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00"]
)
def test_a_start_that_cannot_be_recorded_is_not_a_notification(starts_at: str) -> None:
    with pytest.raises(ValidationError, match="1970-01-01"):
        AlertmanagerPayload.model_validate(notification(alert(starts_at=starts_at)))


@pytest.mark.parametrize("ends_at", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00"])
def test_an_end_that_cannot_be_recorded_reads_as_no_end(ends_at: str) -> None:
    resolved = notification(alert(status="resolved", ends_at=ends_at), status="resolved")
    group = group_of(resolved)
    assert group.alerts[0].ends_at is None
    assert group.ended_at == NOW
