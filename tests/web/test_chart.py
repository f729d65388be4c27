"""The chart counts exactly what the list would, per bar and type, by bisection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import text

from changetrail_api.changes.filters import ChangeFilters
from changetrail_api.web import chart, zones
from tests.api.conftest import Api


def test_bars_are_whole_hours_or_days_on_the_viewers_clock() -> None:
    kolkata = zones.zone_named("Asia/Kolkata")
    start = datetime(2026, 3, 30, 7, 17, tzinfo=UTC)

    hourly = chart.bucketing(start, start + timedelta(hours=20), kolkata)
    weekly = chart.bucketing(start, start + timedelta(days=30), kolkata)

    assert hourly is not None
    assert hourly.step == timedelta(hours=1)
    assert hourly.start.astimezone(kolkata).minute == 0
    assert weekly is not None
    assert len(weekly.edges) - 1 <= chart.MAX_BARS
    assert weekly.start.astimezone(kolkata).hour == 0
    assert chart.bucketing(start, start, kolkata) is None


def test_a_window_far_from_now_is_brought_within_range() -> None:
    now = datetime(2026, 3, 30, tzinfo=UTC)
    start, end = chart.window(datetime(1, 1, 1, tzinfo=UTC), None, now)
    assert end == now
    assert start == now - chart.LONGEST_SPAN


async def test_counts_per_bar_and_type_match_the_changes(app: FastAPI, api: Api) -> None:
    for change_type in ["deployment"] * 3 + ["rollback", "scaling"]:
        await api.change(change_type=change_type)
    now = datetime.now(UTC)
    plan = chart.bucketing(now - timedelta(hours=6), now + timedelta(minutes=1), UTC)
    assert plan is not None

    async with app.state.sessionmaker() as db:
        org_id = str((await db.execute(text("SELECT id FROM organisations"))).scalar_one())
        counts = await chart.count(db, org_id, ChangeFilters(), plan)

    assert {t: sum(bars) for t, bars in counts.series.items()} == {
        "deployment": 3,
        "rollback": 1,
        "other_types": 1,  # types that are not stacked on their own count together
    }
    assert sorted(counts.totals)[-2:] == [0, 5]  # all five in one bar, none elsewhere
