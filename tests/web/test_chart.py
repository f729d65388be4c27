"""The chart counts exactly what the list would, per bar and every type, in one query."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from changetrail_api.changes.filters import ChangeFilters
from changetrail_api.changes.models import Change
from changetrail_api.domain import ChangeType
from changetrail_api.web import chart, zones
from tests.api.conftest import ADMIN_KEY, Api
from tests.web.pages import Browser


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


def test_every_type_has_its_own_series_rollbacks_at_the_bottom() -> None:
    assert chart.SERIES[:3] == ["rollback", "deployment", "config_change"]
    assert sorted(chart.SERIES) == sorted(str(t) for t in ChangeType)


@contextmanager
def statements(connection: AsyncConnection) -> Iterator[list[str]]:
    """What runs on this connection only: the app's background workers use others."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", record)


async def _org_id(app: FastAPI) -> str:
    async with app.state.sessionmaker() as db:
        return str((await db.execute(text("SELECT id FROM organisations"))).scalar_one())


async def _place(app: FastAPI, moments: dict[str, datetime]) -> None:
    """Record changes as created at these moments (the API stamps the time it records them)."""
    async with app.state.sessionmaker.begin() as db:
        for change_id, moment in moments.items():
            # Through the model, so the instant is stored as the API stores its own.
            await db.execute(update(Change).where(Change.id == change_id).values(created_at=moment))


async def test_counts_per_bar_and_type_in_one_query(app: FastAPI, api: Api) -> None:
    kinds = ["deployment"] * 3 + ["rollback", "scaling", "feature_flag", "other"]
    for change_type in kinds:
        await api.change(change_type=change_type)
    now = datetime.now(UTC)
    plan = chart.bucketing(now - timedelta(hours=6), now + timedelta(minutes=1), UTC)
    assert plan is not None
    org_id = await _org_id(app)

    async with app.state.sessionmaker() as db:
        with statements(await db.connection()) as seen:
            counts = await chart.count(db, org_id, ChangeFilters(), plan)

    assert len(seen) == 1, seen
    assert {t: sum(bars) for t, bars in counts.series.items()} == {
        "rollback": 1,
        "deployment": 3,
        "feature_flag": 1,
        "scaling": 1,
        "other": 1,
    }
    assert list(counts.series) == [t for t in chart.SERIES if t in counts.series]
    assert sorted(counts.totals)[-2:] == [0, 7]  # all seven in one bar, none elsewhere


async def test_bars_of_any_width_hold_exactly_their_changes(app: FastAPI, api: Api) -> None:
    start = datetime(2026, 3, 28, tzinfo=UTC)
    # Uneven bars, like local days across a clock change: 1 h, 23 h, 25 h, 30 min.
    edges = [start + timedelta(hours=h) for h in (0, 1, 24, 49, 49.5)]
    placed = {
        "before": start - timedelta(seconds=1),
        "first-edge": start,
        "inside-first": start + timedelta(minutes=59, seconds=59),
        "second-edge": start + timedelta(hours=1),
        "third": start + timedelta(hours=30),
        "last-bar": start + timedelta(hours=49, minutes=29),
        "at-end": start + timedelta(hours=49.5),
    }
    ids = {}
    for name in placed:
        change_type = "rollback" if name == "third" else "deployment"
        ids[(await api.change(summary=name, change_type=change_type))["id"]] = placed[name]
    await _place(app, ids)
    org_id = await _org_id(app)

    async with app.state.sessionmaker() as db:
        counts = await chart.count(db, org_id, ChangeFilters(), chart.Bucketing(edges))
        only_rollbacks = await chart.count(
            db, org_id, ChangeFilters(change_type="rollback"), chart.Bucketing(edges)
        )

    assert counts.totals == [2, 1, 1, 1]
    assert counts.series == {"rollback": [0, 0, 1, 0], "deployment": [2, 1, 0, 1]}
    assert only_rollbacks.series == {"rollback": [0, 0, 1, 0]}


async def test_the_chart_counts_only_the_viewers_organisation(app: FastAPI, api: Api) -> None:
    await api.change(change_type="deployment")
    async with app.state.sessionmaker() as db:
        counts = await chart.count(
            db, "org_someone_else", ChangeFilters(), chart.Bucketing(_last_day())
        )
    assert counts.series == {}
    assert counts.totals == [0] * 24


def _last_day() -> list[datetime]:
    now = datetime.now(UTC) + timedelta(minutes=1)
    return [now - timedelta(hours=24 - h) for h in range(25)]


async def test_the_chart_part_says_what_counting_took(api: Api, browser: Browser) -> None:
    await api.change(change_type="deployment")
    await browser.sign_in(ADMIN_KEY)

    response = await browser.get("/ui/chart", params={"part": "1"})

    assert response.status_code == 200
    assert response.headers["server-timing"].startswith("histogram;dur=")
    assert "t-deployment" in response.text
    assert "Deployment" in response.text  # in the legend
