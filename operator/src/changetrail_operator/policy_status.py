"""The status the operator reports on each ChangePolicy and ClusterChangePolicy."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from changetrail_operator.hashing import JsonDict


def policy_status(
    *,
    generation: int | None,
    error: str | None,
    objects_matched: int,
    changes_recorded: int,
    previous: Mapping[str, Any] | None,
    now: datetime | None = None,
) -> JsonDict:
    """The full status; ``lastTransitionTime`` moves only when the condition flips."""
    now = now or datetime.now(UTC)
    ready = "False" if error else "True"
    reason = "Invalid" if error else "Applied"
    message = error or "The policy is valid and applied to matching objects."
    transition = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    for condition in (previous or {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == ready:
            transition = condition.get("lastTransitionTime") or transition
    return {
        "observedGeneration": generation,
        "conditions": [
            {
                "type": "Ready",
                "status": ready,
                "reason": reason,
                "message": message,
                "lastTransitionTime": transition,
                "observedGeneration": generation,
            }
        ],
        "objectsMatched": objects_matched,
        "changesRecorded": changes_recorded,
    }


def needs_update(current: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> bool:
    current = current or {}
    return any(current.get(key) != value for key, value in wanted.items())
