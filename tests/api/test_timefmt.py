"""Instants on the wire: UTC, milliseconds (truncated, never rounded up) and ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from changetrail_api.timefmt import format_utc


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (datetime(2026, 3, 30, 15, 30), "2026-03-30T15:30:00.000Z"),
        (datetime(2026, 3, 30, 15, 30, 0, 999999), "2026-03-30T15:30:00.999Z"),
        (datetime(2026, 3, 30, 15, 30, tzinfo=UTC), "2026-03-30T15:30:00.000Z"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "9999-12-31T23:59:59.999Z"),
        (datetime(2026, 3, 30, 15, 30, tzinfo=timezone(timedelta(0))), "2026-03-30T15:30:00.000Z"),
        (
            datetime(2026, 3, 30, 17, 30, 0, 5000, tzinfo=timezone(timedelta(hours=2))),
            "2026-03-30T15:30:00.005Z",
        ),
        (datetime(1, 1, 1), "0001-01-01T00:00:00.000Z"),
    ],
)
def test_instants_are_shown_in_utc_with_milliseconds(value: datetime, shown: str) -> None:
    assert format_utc(value) == shown
