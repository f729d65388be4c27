"""When a failed delivery is tried again: pure functions of the attempt count and the answer."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# Longest wait a receiver's Retry-After may impose; a larger value is a receiver bug, and the
# delivery's give-up deadline still applies.
MAX_RETRY_AFTER = 3600.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float
    cap: float


def backoff(policy: RetryPolicy, attempts: int, rng: random.Random) -> float:
    """Seconds before attempt ``attempts + 1``: exponential, capped, with equal jitter.

    Half of the delay is fixed and half random, so deliveries that failed together (a receiver
    outage) come back spread out instead of in one wave, yet never immediately.
    """
    exponent = min(max(attempts - 1, 0), 30)
    ceiling = min(policy.cap, policy.base * 2.0**exponent)
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), bounded."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def next_attempt(
    policy: RetryPolicy,
    attempts: int,
    now: datetime,
    rng: random.Random,
    *,
    retry_after: float | None = None,
) -> datetime:
    """When to try again: the receiver's Retry-After when it gave one, else the backoff."""
    wait = retry_after if retry_after is not None else backoff(policy, attempts, rng)
    return now + timedelta(seconds=wait)
