"""One timeline, wherever it appears: the list page, a service's page, an incident's window.

A timeline is a page of changes for a view (filters in the URL), grouped by day, with the
chart of the same view above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.changes import service as changes_service
from changetrail_api.changes.schemas import ChangeOut
from changetrail_api.web import chart, present
from changetrail_api.web.filters import TimelineQuery
from changetrail_api.web.rendering import PageContext


@dataclass(frozen=True, slots=True)
class Timeline:
    query: TimelineQuery
    changes: list[ChangeOut]
    days: list[present.Day]
    total: int
    chart: chart.ChartView | None
    # The path the view's links lead to ("/ui", or a service's page).
    path: str

    @property
    def first(self) -> int:
        return self.query.offset + 1 if self.changes else 0

    @property
    def last(self) -> int:
        return self.query.offset + len(self.changes)

    @property
    def newer_offset(self) -> int | None:
        if self.query.offset == 0:
            return None
        return max(0, self.query.offset - self.query.limit)

    @property
    def older_offset(self) -> int | None:
        following = self.query.offset + self.query.limit
        return following if following < self.total else None

    def zoom(self, start: datetime, end: datetime | None) -> list[tuple[str, str]]:
        """This view narrowed (or widened) to [start, end): a chart bar's link."""
        return self.query.params(window=None, start=start, end=end, offset=0)

    def zoom_out(self) -> list[tuple[str, str]] | None:
        if self.chart is None:
            return None
        start, end = chart.zoom_out(self.chart.start, self.chart.end, self.query.now)
        return self.zoom(start, end)

    @property
    def base_query(self) -> str:
        """The view's parameters but its time span, for the chart's drag-to-zoom script."""
        return urlencode(self.query.params(window=None, start=None, end=None, offset=0))


async def load(
    db: AsyncSession, page: PageContext, query: TimelineQuery, *, path: str = "/ui"
) -> Timeline:
    """The view's page of changes (its chart is loaded on its own, see ``load_chart``)."""
    assert page.viewer is not None
    changes, total = await changes_service.list_changes(
        db,
        page.viewer.principal.org_id,
        query.change_filters(),
        limit=query.limit,
        offset=query.offset,
    )
    return Timeline(
        query=query,
        changes=changes,
        days=present.by_day(changes, page.zone, page.now),
        total=total,
        chart=None,
        path=path,
    )


async def load_chart(
    db: AsyncSession,
    page: PageContext,
    query: TimelineQuery,
    *,
    path: str = "/ui",
    markers: Sequence[tuple[datetime, str]] = (),
) -> Timeline:
    """The view's chart alone: counts per bar over the view's span (or the last week)."""
    assert page.viewer is not None
    view = None
    start, end = chart.window(query.since, query.until, query.now)
    plan = chart.bucketing(start, end, page.zone)
    if plan is not None:
        unbounded = replace(query.change_filters(), start=None, end=None)
        counts = await chart.count(db, page.viewer.principal.org_id, unbounded, plan)
        view = chart.view(counts, page.zone, markers)
    return Timeline(query=query, changes=[], days=[], total=0, chart=view, path=path)
