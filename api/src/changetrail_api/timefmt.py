"""Timestamps on the wire: ISO 8601 in, UTC with milliseconds and ``Z`` out."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

from changetrail_api.errors import FieldError


def format_utc(value: datetime) -> str:
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


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
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


Instant = Annotated[
    datetime,
    BeforeValidator(parse_instant),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]


def query_instant(name: str, value: str | None) -> datetime | None:
    """A date query parameter, or a 422 naming it."""
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise FieldError(name, str(exc)) from None
