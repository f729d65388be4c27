"""A change's field-level diff (``details.diff``) as rows a page renders as a diff.

Producers write entries like ``{"field": "containers.api.image", "change": "changed",
"old": ..., "new": ...}``. Images read before → after, resources per quantity, environment
variables by name. ConfigMap and Secret keys show their value hashes and never a value,
even where a policy let the operator record one: the page is read by more people than the
API is queried by.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_MAX_SHOWN = 160
_HASH_SHOWN = 12


@dataclass(frozen=True, slots=True)
class DiffRow:
    label: str
    change: str  # added | removed | changed
    kind: str  # image | env | resources | hash | value | plain
    before: str | None = None
    after: str | None = None
    parts: list[DiffRow] = field(default_factory=list)


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _hash(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value[:_HASH_SHOWN]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {prefix: value} if prefix else {}
    out: dict[str, Any] = {}
    for key, inner in value.items():
        out.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _resources(old: Any, new: Any) -> list[DiffRow]:
    before, after = _flatten(old), _flatten(new)
    rows = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) == after.get(name):
            continue
        change = "added" if name not in before else "removed" if name not in after else "changed"
        rows.append(
            DiffRow(name, change, "value", _shown(before.get(name)), _shown(after.get(name)))
        )
    return rows


def _is_keyed_data(entry: Mapping[str, Any]) -> bool:
    label = str(entry.get("field", ""))
    return (
        "old_hash" in entry
        or "new_hash" in entry
        or "key" in entry
        or label.startswith(("data.", "binaryData.", "stringData."))
    )


def diff_row(entry: Mapping[str, Any]) -> DiffRow:
    label = str(entry.get("field") or "?")
    change = str(entry.get("change") or "changed")
    old, new = entry.get("old"), entry.get("new")
    if _is_keyed_data(entry):
        return DiffRow(
            label, change, "hash", _hash(entry.get("old_hash")), _hash(entry.get("new_hash"))
        )
    parts = label.split(".")
    if label.endswith(".image") or (parts[0] == "containers" and len(parts) == 2):
        return DiffRow(label, change, "image", _shown(old), _shown(new))
    if len(parts) > 3 and parts[0] == "containers" and parts[2] == "env":
        # The operator records which variables changed, not their values.
        return DiffRow(label, change, "env")
    if label.endswith(".resources") and (isinstance(old, Mapping) or isinstance(new, Mapping)):
        return DiffRow(label, change, "resources", parts=_resources(old, new))
    if old is None and new is None:
        return DiffRow(label, change, "plain")
    return DiffRow(label, change, "value", _shown(old), _shown(new))


def diff_rows(details: Mapping[str, Any] | None) -> list[DiffRow]:
    entries = (details or {}).get("diff")
    if not isinstance(entries, list):
        return []
    return [diff_row(entry) for entry in entries[:500] if isinstance(entry, Mapping)]


def facts(details: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The other ``details`` fields, as (name, text), the diff itself left out."""
    out: list[tuple[str, str]] = []
    for name, value in sorted((details or {}).items()):
        if name == "diff" or value in (None, "", [], {}):
            continue
        if name == "kubernetes" and isinstance(value, Mapping):
            place = [
                str(value.get(k)) for k in ("cluster", "namespace", "kind", "name") if value.get(k)
            ]
            out.append((name, " / ".join(place)))
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            out.append((name, ", ".join(value)[: _MAX_SHOWN * 2]))
            continue
        shown = _shown(value)
        if shown is not None:
            out.append((name, shown))
    return out
