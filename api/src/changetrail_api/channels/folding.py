"""How many messages a channel may send now, and which deliveries go in each: pure functions.

Each channel has a rate (``max_per_minute``) and a small burst, enforced as a GCRA: the
channel row keeps one timestamp, the "theoretical arrival time" (TAT) at which its budget is
whole again; every message pushes it one interval further, and a receiver's ``Retry-After``
pushes it to that moment. One timestamp in the database is the whole state, so every replica's
worker obeys the same budget.

When more deliveries wait than the budget allows messages, they fold: all of them go out as
one digest (or as few batches as the kind's batch size needs) instead of a queue that drains
at one message a second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Budget:
    per_minute: int
    burst: int

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute


def budget_for(per_minute: int) -> Budget:
    """A channel's budget: its rate, and a burst of a twentieth of it (at least one message)."""
    return Budget(per_minute=per_minute, burst=max(1, min(50, per_minute // 20)))


def available(budget: Budget, tat: datetime | None, now: datetime) -> int:
    """Messages the channel may send at ``now``."""
    if tat is None or tat <= now:
        return budget.burst
    debt = (tat - now).total_seconds()
    return max(0, budget.burst - math.ceil(debt / budget.interval - 1e-9))


def spend(budget: Budget, tat: datetime | None, now: datetime, messages: int) -> datetime:
    """The TAT after sending ``messages`` at ``now``."""
    start = now if tat is None or tat < now else tat
    return start + timedelta(seconds=budget.interval * messages)


def hold_until(budget: Budget, until: datetime) -> datetime:
    """The TAT that keeps the channel silent until ``until`` (a receiver's Retry-After): its
    burst must not be whole again before then."""
    return until + timedelta(seconds=budget.interval * (budget.burst - 1))


def next_free(budget: Budget, tat: datetime | None, now: datetime) -> datetime:
    """When the channel may send its next message."""
    if available(budget, tat, now) > 0 or tat is None:
        return now
    return tat - timedelta(seconds=budget.interval * (budget.burst - 1))


@dataclass(frozen=True, slots=True)
class Waiting:
    """A delivery that is due: new (no message yet) or a message's retry."""

    delivery_id: str
    message_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Planned:
    """One message to send: a retry keeps its ``message_id``; a new one has none yet."""

    message_id: str | None
    delivery_ids: tuple[str, ...]


def plan(waiting: Sequence[Waiting], tokens: int, *, max_batch: int | None) -> list[Planned]:
    """The messages to send now with ``tokens`` of budget.

    Retries go first, each exactly as it was first sent (same deliveries, same id), so a
    receiver that remembers ids recognises it. Then the new deliveries: one message each when
    the budget covers them all, otherwise folded into digests of up to ``max_batch`` (``None``:
    any number) as far as the budget goes; the rest wait for the next round.
    """
    ordered = sorted(waiting, key=lambda w: (w.created_at, w.delivery_id))
    retries: dict[str, list[str]] = {}
    fresh: list[str] = []
    for item in ordered:
        if item.message_id is None:
            fresh.append(item.delivery_id)
        else:
            retries.setdefault(item.message_id, []).append(item.delivery_id)
    planned = [Planned(mid, tuple(ids)) for mid, ids in retries.items()][: max(0, tokens)]
    left = tokens - len(planned)
    if left <= 0 or not fresh:
        return planned
    if len(fresh) <= left:
        return planned + [Planned(None, (delivery_id,)) for delivery_id in fresh]
    size = max_batch or len(fresh)
    chunks = [tuple(fresh[i : i + size]) for i in range(0, len(fresh), size)]
    return planned + [Planned(None, chunk) for chunk in chunks[:left]]
