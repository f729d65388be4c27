"""Retry timing: exponential backoff with jitter, and the receiver's Retry-After."""

from __future__ import annotations

import random
from datetime import timedelta
from email.utils import format_datetime

import pytest

from changetrail_api.channels.retry import (
    MAX_RETRY_AFTER,
    RetryPolicy,
    backoff,
    next_attempt,
    parse_retry_after,
)
from tests.channels.factories import T0

POLICY = RetryPolicy(base=2.0, cap=300.0)


@pytest.mark.parametrize(("attempts", "ceiling"), [(1, 2), (2, 4), (5, 32), (9, 300), (50, 300)])
def test_backoff_doubles_up_to_the_cap_with_equal_jitter(attempts: int, ceiling: float) -> None:
    rng = random.Random(1)
    delays = [backoff(POLICY, attempts, rng) for _ in range(200)]
    assert min(delays) >= ceiling / 2
    assert max(delays) <= ceiling
    assert len({round(d, 6) for d in delays}) > 100  # jittered, not one value


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("7", T0) == 7.0
    assert parse_retry_after(format_datetime(T0 + timedelta(seconds=30), usegmt=True), T0) == 30
    assert parse_retry_after(None, T0) is None
    assert parse_retry_after("soon", T0) is None


def test_retry_after_is_bounded() -> None:
    assert parse_retry_after("999999", T0) == MAX_RETRY_AFTER
    assert parse_retry_after(format_datetime(T0 - timedelta(hours=1), usegmt=True), T0) == 0


def test_the_receivers_retry_after_wins_over_backoff() -> None:
    rng = random.Random(1)
    assert next_attempt(POLICY, 1, T0, rng, retry_after=12) == T0 + timedelta(seconds=12)
    assert next_attempt(POLICY, 1, T0, rng) <= T0 + timedelta(seconds=2)
