"""The chart of changes over time above a timeline: bars per hour or day, stacked by type.

Counts come from the changes service's histogram: one query grouped by bar and change type, over
the same filters and organisation as the list, so the chart sees exactly what the list would
and nothing the key may not read. The pages load the chart after the list (see
``routes.changes``), so its cost never holds up the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.changes import service as changes_service
from changetrail_api.changes.filters import ChangeFilters
from changetrail_api.domain import ChangeType
from changetrail_api.web.present import TYPE_LABELS

MAX_BARS = 24
DEFAULT_SPAN = timedelta(days=7)
LONGEST_SPAN = timedelta(days=5 * 365)
_STEPS = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(days=1),
    timedelta(days=7),
    timedelta(days=28),
]
# Every type stacked on its own, bottom up: what most often explains an outage sits on the
# baseline, then the rest in the order the type filter lists them. A stored type this list
# does not know (from a newer version) is counted with "other".
STACKED_FIRST = [ChangeType.ROLLBACK, ChangeType.DEPLOYMENT, ChangeType.CONFIG_CHANGE]
SERIES = [str(t) for t in (*STACKED_FIRST, *(t for t in ChangeType if t not in STACKED_FIRST))]
SERIES_LABELS = {t: TYPE_LABELS.get(t, t) for t in SERIES}


@dataclass(frozen=True, slots=True)
class Bucketing:
    edges: list[datetime]  # bars + 1 instants, ascending

    @property
    def start(self) -> datetime:
        return self.edges[0]

    @property
    def end(self) -> datetime:
        return self.edges[-1]

    @property
    def step(self) -> timedelta:
        return self.edges[1] - self.edges[0]


def _align(moment: datetime, step: timedelta, zone: tzinfo) -> datetime:
    """The bar boundary at or before ``moment``, on the viewer's clock (local midnight, ...)."""
    local = moment.astimezone(zone)
    if step >= timedelta(days=1):
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if step >= timedelta(days=7):
            midnight -= timedelta(days=midnight.weekday())  # weeks start on Monday
        return midnight.astimezone(UTC)
    offset = local.utcoffset() or timedelta(0)
    seconds = int(step.total_seconds())
    since_epoch = int((moment + offset).timestamp())
    return datetime.fromtimestamp(since_epoch - since_epoch % seconds, UTC) - offset


def bucketing(start: datetime, end: datetime, zone: tzinfo) -> Bucketing | None:
    """Bars covering [start, end): the finest step that needs at most MAX_BARS bars."""
    if end <= start:
        return None
    for step in _STEPS:
        first = _align(start, step, zone)
        bars = -(-(end - first) // step)
        if bars <= MAX_BARS:
            return Bucketing([first + step * i for i in range(bars + 1)])
    step = _STEPS[-1]
    first = _align(start, step, zone)
    bars = min(-(-(end - first) // step), 500)
    return Bucketing([first + step * i for i in range(bars + 1)])


def window(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The span a chart shows: the view's own, else the last week (up to now).

    Kept within LONGEST_SPAN of now either way: bars stay countable and dates stay in range.
    """
    end = min(until or now, now + LONGEST_SPAN)
    start = max(since or end - DEFAULT_SPAN, now - LONGEST_SPAN)
    return start, end


@dataclass(frozen=True, slots=True)
class Counts:
    bucketing: Bucketing
    totals: list[int]
    # Bars per stacked series (SERIES, in that order), only for types with a change in the window.
    series: dict[str, list[int]]


async def count(db: AsyncSession, org_id: str, filters: ChangeFilters, plan: Bucketing) -> Counts:
    """Changes matching ``filters`` per bar of ``plan`` and per type."""
    bars = len(plan.edges) - 1
    per_type = await changes_service.histogram(db, org_id, filters, plan.edges)
    unknown = [per_type.pop(t) for t in list(per_type) if t not in SERIES_LABELS]
    if unknown:
        known_other = per_type.get(str(ChangeType.OTHER), [0] * bars)
        per_type[str(ChangeType.OTHER)] = [sum(c) for c in zip(known_other, *unknown, strict=True)]
    series = {t: per_type[t] for t in SERIES if t in per_type}
    totals = [sum(column) for column in zip(*series.values(), strict=True)] if series else []
    return Counts(plan, totals or [0] * bars, series)


# --- geometry: what the template draws -------------------------------------------------------

WIDTH = 960
HEIGHT = 120


@dataclass(frozen=True, slots=True)
class Segment:
    change_type: str
    y: float
    height: float


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    start: datetime
    end: datetime
    total: int
    segments: list[Segment]
    label: str


@dataclass(frozen=True, slots=True)
class Tick:
    percent: float
    label: str


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class ChartView:
    start: datetime
    end: datetime
    step_label: str
    bars: list[Bar]
    ticks: list[Tick]
    peak: int
    legend: list[tuple[str, str, int]]  # (change type, label, count)
    markers: list[Marker]

    @property
    def empty(self) -> bool:
        return self.peak == 0


def _step_label(step: timedelta) -> str:
    minutes = int(step.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 1440:
        return "hour" if minutes == 60 else f"{minutes // 60} hours"
    days = minutes // 1440
    return {1: "day", 7: "week"}.get(days, f"{days} days")


def _tick_time(moment: datetime, step: timedelta, zone: tzinfo) -> str:
    """An axis label, short enough for a phone: the day at midnight, else the hour."""
    local = moment.astimezone(zone)
    if step >= timedelta(days=1) or (local.hour, local.minute) == (0, 0):
        return local.strftime("%-d %b")
    return local.strftime("%H:%M")


def _bar_time(moment: datetime, step: timedelta, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    if step >= timedelta(days=1):
        return local.strftime("%a %-d %b")
    return local.strftime("%-d %b %H:%M")


def view(counts: Counts, zone: tzinfo, markers: Sequence[tuple[datetime, str]] = ()) -> ChartView:
    plan = counts.bucketing
    bars_count = len(plan.edges) - 1
    totals = counts.totals
    peak = max(totals, default=0)
    slot = WIDTH / bars_count
    gap = min(2.0, slot * 0.15)
    bars: list[Bar] = []
    for i in range(bars_count):
        y = float(HEIGHT)
        segments = []
        words = []
        for change_type in SERIES:
            amount = counts.series.get(change_type, [0] * bars_count)[i]
            if not amount:
                continue
            height = HEIGHT * amount / peak
            y -= height
            segments.append(Segment(change_type, round(y, 2), round(height, 2)))
            words.append(f"{amount} {SERIES_LABELS[change_type].lower()}")
        start, end = plan.edges[i], plan.edges[i + 1]
        span = f"{_bar_time(start, plan.step, zone)} to {_bar_time(end, plan.step, zone)}"
        label = f"{span}: " + (", ".join(words) if words else "no changes")
        bars.append(
            Bar(
                round(i * slot + gap / 2, 2),
                round(slot - gap, 2),
                start,
                end,
                totals[i],
                segments,
                label,
            )
        )
    tick_every = max(1, bars_count // 6)
    # Labels sit centred on their bar's left edge; one too near the right end would be cut off.
    ticks = [
        Tick(round(100 * i / bars_count, 2), _tick_time(plan.edges[i], plan.step, zone))
        for i in range(0, bars_count, tick_every)
        if i == 0 or i / bars_count < 0.92
    ]
    span_seconds = (plan.end - plan.start).total_seconds()
    placed = [
        Marker(round(WIDTH * (moment - plan.start).total_seconds() / span_seconds, 2), label)
        for moment, label in markers
        if plan.start <= moment <= plan.end
    ]
    legend = [(t, SERIES_LABELS[t], sum(counts.series[t])) for t in SERIES if t in counts.series]
    return ChartView(
        start=plan.start,
        end=plan.end,
        step_label=_step_label(plan.step),
        bars=bars,
        ticks=ticks,
        peak=peak,
        legend=legend,
        markers=placed,
    )


def zoom_out(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime | None]:
    """Twice the span around the same middle; an end past now becomes open (None)."""
    span = end - start
    new_start = max(start - span / 2, now - LONGEST_SPAN)
    new_end = end + span / 2
    return new_start, None if new_end >= now else new_end
