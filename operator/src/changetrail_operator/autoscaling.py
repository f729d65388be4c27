"""Coalescing of HPA decisions: one record per settled decision, not one per watch event.

An HPA that flaps (3 → 6 → 4 → 6 within a minute) produces one ``3 → 6`` record once its
desired replica count has stayed put for the settle window; a flap that returns to where it
started records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class PendingScale:
    from_replicas: int | None
    to_replicas: int
    metric: str | None
    last_scale: str | None
    changed_at: float  # monotonic seconds of the latest change of ``to_replicas``


def observe(
    pending: PendingScale | None,
    recorded: int | None,
    desired: int | None,
    metric: str | None,
    last_scale: str | None,
    now: float,
) -> PendingScale | None:
    """The pending decision after the HPA reports ``desired`` replicas."""
    if desired is None:
        return pending
    if pending is None:
        if desired == recorded:
            return None
        return PendingScale(recorded, desired, metric, last_scale, now)
    if desired == pending.to_replicas:
        # Same decision; a fresher reading of the metric is still worth keeping.
        return replace(pending, metric=metric or pending.metric)
    return replace(
        pending, to_replicas=desired, metric=metric, last_scale=last_scale, changed_at=now
    )


def is_first_report(
    recorded: int | None, last_scale_before: str | None, last_scale: str | None
) -> bool:
    """A new HPA's first status write only reports the size it found.

    Until then the HPA has no desired count (or 0); if ``lastScaleTime`` did not move, the HPA
    rescaled nothing, so the count is its starting point, not a decision to record.
    """
    return not recorded and last_scale == last_scale_before


def settled(pending: PendingScale, now: float, window: float) -> bool:
    return now - pending.changed_at >= window


def is_noop(pending: PendingScale) -> bool:
    """A flap that ended where it started."""
    return pending.from_replicas == pending.to_replicas
