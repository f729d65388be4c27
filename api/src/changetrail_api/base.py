"""Declarative base and the column types every table shares."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python, whatever the backend keeps.

    SQLite has no timezone-aware type; storing naive UTC everywhere keeps comparisons and
    ordering identical on both backends.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else naive_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def naive_utc(value: datetime) -> datetime:
    """What every backend stores: UTC without a zone (a naive value is UTC already)."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def utcnow_ms() -> datetime:
    """Now, truncated to milliseconds: the precision the contract shows in ``created_at``."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class _MonotonicIds:
    """48 bits of milliseconds, then 80 bits that are random for a new millisecond and one
    more than the last id's within the same one (as monotonic ULIDs do): ids made one after
    another in a process sort in the order they were made, even within a millisecond."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> int:
        millisecond = int(time.time() * 1000) << 80
        with self._lock:
            if millisecond <= self._last:
                # The same millisecond as the last id (or a clock that stepped back): one more
                # than it, with no random bits to draw (a system call each).
                value = self._last + 1
            else:
                value = millisecond | secrets.randbits(80)
            self._last = value
            return value


_IDS = _MonotonicIds()


def new_id(prefix: str) -> str:
    """``prefix_`` + 26 Crockford base32 characters: 48 bits of milliseconds, 80 random bits.

    Time-ordered, so ``id`` is a meaningful tie-break after ``created_at``.
    """
    return f"{prefix}_{_crockford(_IDS.next())}"


# Each two characters of an id, by the 10 bits they spell.
_CROCKFORD_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)
_PAIR_SHIFTS = tuple(range(115, 4, -10))


def _crockford(value: int) -> str:
    """128 bits as 26 characters of 5 bits, most significant first (the first character holds
    the top 3 bits), two characters per table look-up: a batch makes a thousand ids, and
    base64's base32 of the 20 bytes then a translation took twice as long."""
    pairs = _CROCKFORD_PAIRS
    middle = "".join([pairs[(value >> shift) & 1023] for shift in _PAIR_SHIFTS])
    return _CROCKFORD[value >> 125] + middle + _CROCKFORD[value & 31]


def id_column_type() -> String:
    return String(40)


def json_default_list() -> list[Any]:
    return []
