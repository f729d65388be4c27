"""ConfigMaps: which keys changed, never their values unless a policy shows them.

A ConfigMap belongs to no service of its own: its changes go to the service of a workload that
uses it (see ``workloads``), and name those workloads as its consumers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from changetrail_operator.bodies import as_dict, metadata, str_dict
from changetrail_operator.changes import ObjectContext, content_version, draft, listing
from changetrail_operator.diffs import keyed
from changetrail_operator.drafts import ChangeDraft, ChangeType
from changetrail_operator.hashing import JsonDict, text_hash
from changetrail_operator.kinds.base import Kind, Subject
from changetrail_operator.resources import ApiResource
from changetrail_operator.workloads import Workloads

if TYPE_CHECKING:
    from changetrail_operator.policies import Policy

# Written by the control plane itself, continuously or once per namespace.
SYSTEM_CONFIGMAPS = frozenset({"kube-root-ca.crt", "cluster-autoscaler-status"})
# Older client-go leader election stores its lock as this annotation on a ConfigMap (or
# Endpoints); the lock is renewed every few seconds.
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"


@dataclass(frozen=True, slots=True)
class ConfigMapState:
    data: dict[str, str]  # key → hash of its value
    binary: dict[str, str]  # binaryData key → hash of its value
    values: dict[str, str]  # key → value, only for keys a policy shows and only if short


def configmap_state(
    body: Mapping[str, Any],
    ignored_keys: Iterable[str] = (),
    visible_keys: Iterable[str] = (),
    max_value_bytes: int = 0,
) -> ConfigMapState:
    """Key names with value hashes; values only for keys a policy shows, and only if short."""
    ignored = list(ignored_keys)
    visible = list(visible_keys)

    def kept(key: str) -> bool:
        return not any(fnmatchcase(key, pattern) for pattern in ignored)

    data = {key: value for key, value in str_dict(body.get("data")).items() if kept(key)}
    binary = {key: value for key, value in str_dict(body.get("binaryData")).items() if kept(key)}
    return ConfigMapState(
        data={key: text_hash(value) for key, value in data.items()},
        binary={key: text_hash(value) for key, value in binary.items()},
        values={
            key: value
            for key, value in data.items()
            if any(fnmatchcase(key, pattern) for pattern in visible)
            and len(value.encode()) <= max_value_bytes
        },
    )


class ConfigMapKind(Kind[ConfigMapState]):
    name = "ConfigMap"
    resource = ApiResource("", "v1", "configmaps")
    lifecycle_type = ChangeType.CONFIG_CHANGE

    def noise(self, body: Mapping[str, Any]) -> str | None:
        meta = metadata(body)
        if meta.get("name") in SYSTEM_CONFIGMAPS:
            return "system"
        if LEADER_ANNOTATION in as_dict(meta.get("annotations")):
            return "leader-election"
        return None

    def subject(self, body: Mapping[str, Any], workloads: Workloads) -> Subject:
        meta = metadata(body)
        name = str(meta.get("name"))
        consumers = workloads.consumers(meta.get("namespace"), name)
        return Subject(name=name, is_workload=False, consumers=tuple(consumers))

    def snapshot(self, body: Mapping[str, Any], policy: Policy) -> ConfigMapState:
        return configmap_state(
            body, policy.ignore_configmap_keys, policy.shown_value_keys(), policy.max_value_bytes
        )

    def dump(self, state: ConfigMapState) -> JsonDict:
        return {
            "data": dict(state.data),
            "binary": dict(state.binary),
            "values": dict(state.values),
        }

    def load(self, data: JsonDict) -> ConfigMapState:
        return ConfigMapState(
            data=str_dict(data.get("data")),
            binary=str_dict(data.get("binary")),
            values=str_dict(data.get("values")),
        )

    def describe(self, state: ConfigMapState) -> str:
        count = len(state.data) + len(state.binary)
        return f"{count} key" + ("" if count == 1 else "s")

    def changes(
        self, old: ConfigMapState, new: ConfigMapState, ctx: ObjectContext, workloads: Workloads
    ) -> list[ChangeDraft]:
        diff = _diff(old, new)
        if not diff:
            return []
        keys = [entry["key"] for entry in diff]
        noun = "key" if len(keys) == 1 else "keys"
        return [
            draft(
                ctx,
                what="data",
                version=content_version(ctx),
                summary=f"Config {ctx.ref}: {len(keys)} {noun} changed ({listing(keys)})",
                change_type=ChangeType.CONFIG_CHANGE,
                diff=diff,
                paths=[("data", key) for key in keys] + [("binaryData", key) for key in keys],
                extra_details={"consumers": list(ctx.consumers)},
            )
        ]


def _diff(old: ConfigMapState, new: ConfigMapState) -> list[JsonDict]:
    """Key-level changes; values appear only where the states hold them (policy-allowed)."""
    entries: list[JsonDict] = []
    for label, before, after, values in (
        ("data", old.data, new.data, True),
        ("binaryData", old.binary, new.binary, False),
    ):
        for entry in keyed(label, before, after):
            key = entry["field"].split(".", 1)[1]
            entry["key"] = key
            if key in before:
                entry["old_hash"] = before[key]
            if key in after:
                entry["new_hash"] = after[key]
            if values and key in old.values:
                entry["old"] = old.values[key]
            if values and key in new.values:
                entry["new"] = new.values[key]
            entries.append(entry)
    return entries
