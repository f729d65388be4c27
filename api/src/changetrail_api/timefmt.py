"""Timestamps on the wire: ISO 8601 in, UTC with milliseconds and ``Z`` out.

Python's datetime spans years 1 to 9999, and converting to UTC or adding a correlation window
can step outside it (``0001-01-01T00:00:00+01:00`` is in year 0 once in UTC). Parsing never
lets that escape as an error of its own: a value beyond the range is a 422 naming its field.
Instants that are *recorded* (when a change happened, when an incident started) must also lie
in ``RECORDED_RANGE``, far from either end, so every window around them stays computable.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

from changetrail_api.errors import FieldError

EARLIEST_RECORDED = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_RECORDED = datetime(3000, 1, 1, tzinfo=UTC)  # exclusive
RECORDED_RANGE = "from 1970-01-01T00:00:00Z to 2999-12-31T23:59:59Z"

_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def format_utc(value: datetime) -> str:
    """``2026-03-30T15:30:00.123Z``: UTC (naive means UTC), milliseconds, four-digit years."""
    if value.tzinfo is UTC:  # nearly every value: no conversion, just its +00:00 replaced
        return value.isoformat(timespec="milliseconds")[:-6] + "Z"
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def to_utc(value: datetime) -> datetime:
    """Aware UTC; naive means UTC. ValueError when UTC falls outside years 1 to 9999."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the years 1 to 9999 once converted to UTC") from None


def parse_instant(value: object) -> datetime:
    """A date or a date-time, with or without offset; naive means UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time.min)
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 64:
            raise ValueError("expected an ISO 8601 date or date-time")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                "expected an ISO 8601 date or date-time, e.g. 2026-03-30T15:30:00Z"
            ) from None
    else:
        raise ValueError("expected an ISO 8601 date or date-time string")
    return to_utc(parsed)


def check_recorded(value: datetime) -> datetime:
    """``value`` (aware) when it lies in ``RECORDED_RANGE``; ValueError otherwise."""
    if not EARLIEST_RECORDED <= to_utc(value) < LATEST_RECORDED:
        raise ValueError(f"must be {RECORDED_RANGE}")
    return value


def shift(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, held at the ends of the calendar instead of overflowing."""
    try:
        return moment + delta
    except OverflowError:
        return _LATEST if delta > timedelta(0) else _EARLIEST


Instant = Annotated[
    datetime,
    BeforeValidator(parse_instant),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]

# An instant a request records (a change's occurred_at, an incident's started_at): an Instant
# within RECORDED_RANGE.
RecordedInstant = Annotated[Instant, AfterValidator(check_recorded)]


def query_instant(name: str, value: str | None) -> datetime | None:
    """A date query parameter, or a 422 naming it."""
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise FieldError(name, str(exc)) from None
