"""Field-level differences between two compact states: the ``details.diff`` of a change.

Each entry names a field and how it changed (``added``, ``removed``, ``changed``); the kinds
build their diffs from these entries and add old and new values only where those are safe to
show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from changetrail_operator.hashing import JsonDict


def keyed(
    prefix: str, old: Mapping[str, Any], new: Mapping[str, Any], *, values: bool = False
) -> list[JsonDict]:
    """One entry per key added, removed or changed, in key order: ``prefix.key``."""
    entries: list[JsonDict] = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            entry: JsonDict = {"field": f"{prefix}.{key}", "change": "added"}
        elif key not in new:
            entry = {"field": f"{prefix}.{key}", "change": "removed"}
        elif old[key] != new[key]:
            entry = {"field": f"{prefix}.{key}", "change": "changed"}
        else:
            continue
        if values:
            entry["old"] = old.get(key)
            entry["new"] = new.get(key)
        entries.append(entry)
    return entries
