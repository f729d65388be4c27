"""The timeline's URL: every API list filter, checked as the API checks it, and canonical."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from changetrail_api.web.filters import FilterError, TimelineQuery, parse

NOW = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)


def view(**params: str | list[str]) -> tuple[TimelineQuery, bool]:
    return parse({k: v if isinstance(v, list) else [v] for k, v in params.items()}, now=NOW)


def test_every_filter_reaches_the_change_filters() -> None:
    query, canonical = view(
        service_id="svc_1",
        change_type="rollback",
        environment="production",
        source="kubernetes",
        risk_level="high",
        outcome="failed",
        changed_by="kubectl",
        cluster="prod-eu",
        namespace="payments",
        tag=["team-a", "team-b"],
        q="payments",
        external_id="k8s:1",
        start_date="2026-03-29T00:00:00Z",
        end_date="2026-03-30",
    )

    filters = query.change_filters()

    assert not canonical
    assert (filters.service_id, filters.change_type, filters.risk_level) == (
        "svc_1",
        "rollback",
        "high",
    )
    assert filters.outcome == "failed"
    assert filters.tags == ("team-a", "team-b", "cluster:prod-eu", "namespace:payments")
    assert filters.start == datetime(2026, 3, 29, tzinfo=UTC)
    assert filters.end == datetime(2026, 3, 30, tzinfo=UTC)
    assert (filters.q, filters.changed_by, filters.external_id) == ("payments", "kubectl", "k8s:1")


def test_form_times_are_read_in_the_browsers_zone_and_made_canonical() -> None:
    query, canonical = view(start_date="2026-03-30T09:00", tz="Europe/Berlin", source="")

    assert canonical  # the form's zone and empty fields leave the shared address
    assert query.start == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert query.params() == [("start_date", "2026-03-30T07:00:00Z")]


def test_times_with_an_offset_ignore_the_form_zone() -> None:
    query, _ = view(start_date="2026-03-30T09:00:00+02:00", tz="Asia/Kolkata")
    assert query.start == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_a_window_counts_back_from_now_and_pins_for_sharing() -> None:
    query, _ = view(window="24h", start_date="2020-01-01")

    assert query.change_filters().start == datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    assert query.start is None
    assert query.permalink_params() == [
        ("start_date", "2026-03-29T12:00:00Z"),
        ("end_date", "2026-03-30T12:00:00Z"),
    ]


def test_every_bad_parameter_is_named_at_once() -> None:
    with pytest.raises(FilterError) as raised:
        view(
            change_type="DEPLOYMENT",
            risk_level="x",
            outcome="exploded",
            limit="3",
            offset="-2",
            end_date="soon",
        )

    named = [name for name, _ in raised.value.problems]
    assert named == ["change_type", "risk_level", "outcome", "end_date", "limit", "offset"]
    assert "'DEPLOYMENT' is not one of" in raised.value.problems[0][1]


def test_a_date_beyond_the_calendar_is_a_bad_parameter_not_a_crash() -> None:
    with pytest.raises(FilterError):
        view(start_date="0001-01-01T00:00:00+14:00")


def test_chips_remove_one_filter_each_and_go_back_to_the_first_page() -> None:
    query, _ = view(change_type="rollback", tag=["a", "b"], offset="50")

    chips = {(label, value): params for label, value, params in query.chips(UTC)}

    assert chips[("type", "rollback")] == [("tag", "a"), ("tag", "b")]
    assert chips[("tag", "a")] == [("change_type", "rollback"), ("tag", "b")]
