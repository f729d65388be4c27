"""Times as the viewer reads them: in their time zone, exact and relative.

The browser tells its IANA zone through a cookie (set by the pages' script); the server then
renders every time, and groups days, in that zone. Without it, or with a zone this system
does not know, times are UTC and say so.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ZONE_COOKIE = "ct_tz"
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$")


def zone_named(name: str | None) -> tzinfo:
    name = unquote(name) if name else name
    if not name or not _ZONE_NAME.match(name) or ".." in name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def zone_label(zone: tzinfo) -> str:
    return "UTC" if zone is UTC else str(zone)


def local(value: datetime, zone: tzinfo) -> datetime:
    return value.astimezone(zone)


def exact(value: datetime, zone: tzinfo) -> str:
    """``2026-12-02 14:03:05 CET``: the full instant, unambiguous in the viewer's zone."""
    moment = value.astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.tzname() or "UTC")


def clock(value: datetime, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime("%H:%M:%S")


def relative(value: datetime, now: datetime) -> str:
    seconds = (now - value).total_seconds()
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now"
    for limit, unit, size in (
        (3600, "min", 60),
        (86400, "h", 3600),
        (86400 * 60, "days", 86400),
        (float("inf"), "months", 86400 * 30),
    ):
        if seconds < limit:
            amount = round(seconds / size)
            if unit == "days" and amount == 1:
                unit = "day"
            if unit == "months" and amount == 1:
                unit = "month"
            return f"in {amount} {unit}" if ahead else f"{amount} {unit} ago"
    raise AssertionError("unreachable")


def day_heading(day: date, today: date) -> str:
    named = day.strftime("%a %-d %b %Y")
    if day == today:
        return f"Today · {named}"
    if (today - day).days == 1:
        return f"Yesterday · {named}"
    return named


def iso_utc(value: datetime) -> str:
    """The canonical form the pages put in URLs: UTC with ``Z``, milliseconds only if any."""
    moment = value.astimezone(UTC)
    millis = moment.microsecond // 1000
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{millis:03d}Z" if millis else "Z")
