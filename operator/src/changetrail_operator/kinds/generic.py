"""Any resource a ClusterChangePolicy names: its spec, field by field.

Nothing is known of such a resource beyond what the API server says of it, so its state is its
spec flattened to dotted paths, each with a hash of its value (values only where the policy
shows them, short scalars only), and the length of each list. A change is a ``config_change``
naming the fields that changed: ``Certificate shop/tls: spec.dnsNames +1``. The policy's ignore
rules (paths, names) apply as to any kind.

Such a kind is not in the registry: the operator learns of it from policies while it runs (see
``dynamic``), and keeps it by its resource (``certificates.cert-manager.io``), worded by its
``kind`` (``Certificate``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from changetrail_operator.bodies import as_dict, metadata, opt_int
from changetrail_operator.changes import ObjectContext, content_version, draft, listing
from changetrail_operator.drafts import ChangeDraft, ChangeType
from changetrail_operator.hashing import JsonDict, content_hash
from changetrail_operator.kinds.base import Kind
from changetrail_operator.paths import without_paths
from changetrail_operator.resources import ApiResource
from changetrail_operator.workloads import Workloads

if TYPE_CHECKING:
    from changetrail_operator.policies import Policy

# Fields kept per object, and how deep: a spec past these is kept as one hash per subtree.
MAX_FIELDS = 200
MAX_DEPTH = 6
_TOP_LEVEL_NOISE = {"apiVersion", "kind", "metadata", "status"}


@dataclass(frozen=True, slots=True)
class SpecState:
    fields: dict[str, str]  # dotted path → hash of its value
    lengths: dict[str, int]  # dotted path of a list → its length
    values: dict[str, Any]  # dotted path → value, only for short scalars a policy shows
    generation: int | None


def _segment(key: str) -> str:
    # Dotted keys go in brackets, as policies write ignored paths.
    return f"[{key}]" if "." in key else key


def _join(prefix: str, key: str) -> str:
    segment = _segment(key)
    if not prefix:
        return segment
    return f"{prefix}{segment}" if segment.startswith("[") else f"{prefix}.{segment}"


def flatten(value: Any, prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """Leaves by dotted path; lists and deep subtrees are leaves of their own."""
    if isinstance(value, Mapping) and value and depth < MAX_DEPTH:
        leaves: dict[str, Any] = {}
        for key in sorted(value, key=str):
            leaves.update(flatten(value[key], _join(prefix, str(key)), depth + 1))
        return leaves
    return {prefix: value}


def spec_of(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """What a resource declares: its ``spec``, else every top-level field but the API's own."""
    if "spec" in body:
        return {"spec": body.get("spec")}
    return {key: value for key, value in body.items() if key not in _TOP_LEVEL_NOISE}


def spec_state(
    body: Mapping[str, Any], policy: Policy | None = None, max_value_bytes: int = 0
) -> SpecState:
    if policy is not None:
        body = without_paths(dict(body), policy.ignore_paths)
    leaves = flatten(spec_of(body))
    if len(leaves) > MAX_FIELDS:
        # Too many to name one by one: the first ones by path, the rest as one hash.
        kept = dict(sorted(leaves.items())[: MAX_FIELDS - 1])
        rest = {path: value for path, value in leaves.items() if path not in kept}
        kept["…"] = rest
        leaves = kept
    show = policy is not None and policy.show_values
    limit = policy.max_value_bytes if policy is not None else max_value_bytes
    return SpecState(
        fields={path: content_hash(value, 16) for path, value in leaves.items()},
        lengths={path: len(value) for path, value in leaves.items() if isinstance(value, list)},
        values={
            path: value
            for path, value in leaves.items()
            if show
            and isinstance(value, str | int | float | bool)
            and len(str(value).encode()) <= limit
        },
        generation=opt_int(metadata(body).get("generation")),
    )


class GenericKind(Kind[SpecState]):
    """The spec of one resource a policy names, known by discovery."""

    lifecycle_type = ChangeType.CONFIG_CHANGE

    def __init__(self, resource: ApiResource, kind: str) -> None:
        self.resource = resource  # type: ignore[misc]  # per instance: every resource differs
        self.name = resource_id(resource)  # type: ignore[misc]
        self._kind = kind

    def label(self) -> str:
        return self._kind

    def snapshot(self, body: Mapping[str, Any], policy: Policy) -> SpecState:
        return spec_state(body, policy)

    def dump(self, state: SpecState) -> JsonDict:
        return {
            "fields": dict(state.fields),
            "lengths": dict(state.lengths),
            "values": dict(state.values),
            "generation": state.generation,
        }

    def load(self, data: JsonDict) -> SpecState:
        return SpecState(
            fields={str(k): str(v) for k, v in as_dict(data.get("fields")).items()},
            lengths={
                str(k): v for k, v in as_dict(data.get("lengths")).items() if isinstance(v, int)
            },
            values=dict(as_dict(data.get("values"))),
            generation=opt_int(data.get("generation")),
        )

    def describe(self, state: SpecState) -> str:
        count = len(state.fields)
        return f"{count} field" + ("" if count == 1 else "s")

    def changes(
        self, old: SpecState, new: SpecState, ctx: ObjectContext, workloads: Workloads
    ) -> list[ChangeDraft]:
        diff = spec_diff(old, new)
        if not diff:
            return []
        version = f"g{new.generation}" if new.generation is not None else content_version(ctx)
        return [
            draft(
                ctx,
                what="spec",
                version=version,
                summary=f"{self._kind} {ctx.ref}: {listing([_phrase(e) for e in diff])}",
                change_type=ChangeType.CONFIG_CHANGE,
                diff=diff,
                paths=[("spec",)],
            )
        ]


def spec_diff(old: SpecState, new: SpecState) -> list[JsonDict]:
    entries: list[JsonDict] = []
    for path in sorted(set(old.fields) | set(new.fields)):
        if path not in old.fields:
            entry: JsonDict = {"field": path, "change": "added"}
        elif path not in new.fields:
            entry = {"field": path, "change": "removed"}
        elif old.fields[path] != new.fields[path]:
            entry = {"field": path, "change": "changed"}
        else:
            continue
        if path in old.lengths or path in new.lengths:
            entry["old_length"] = old.lengths.get(path)
            entry["new_length"] = new.lengths.get(path)
        if path in old.values:
            entry["old"] = old.values[path]
        if path in new.values:
            entry["new"] = new.values[path]
        entries.append(entry)
    return entries


def _phrase(entry: JsonDict) -> str:
    field = str(entry["field"])
    before, after = entry.get("old_length"), entry.get("new_length")
    changed = entry["change"] == "changed"
    if changed and before is not None and after is not None and after != before:
        return f"{field} {after - before:+d}"
    if "old" in entry and "new" in entry:
        return f"{field} {entry['old']} → {entry['new']}"
    return f"{field} {entry['change']}"


def resource_id(resource: ApiResource) -> str:
    """How a named resource is known in policies and records: ``certificates.cert-manager.io``."""
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural
