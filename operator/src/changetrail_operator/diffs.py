"""Field-level differences between two compact states of the same object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from changetrail_operator.hashing import JsonDict


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _keyed(
    prefix: str, old: Mapping[str, Any], new: Mapping[str, Any], *, values: bool = False
) -> list[JsonDict]:
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


def diff_pod_template(old: JsonDict, new: JsonDict) -> list[JsonDict]:
    """What changed in a Deployment's pod template: images, env, args, resources, volumes."""
    entries: list[JsonDict] = []
    old_containers = _dict(old.get("containers"))
    new_containers = _dict(new.get("containers"))
    for name in sorted(set(old_containers) | set(new_containers)):
        prefix = f"containers.{name}"
        if name not in old_containers:
            image = new_containers[name].get("image")
            entries.append({"field": prefix, "change": "added", "new": image})
            continue
        if name not in new_containers:
            image = old_containers[name].get("image")
            entries.append({"field": prefix, "change": "removed", "old": image})
            continue
        before, after = _dict(old_containers[name]), _dict(new_containers[name])
        if before.get("image") != after.get("image"):
            entries.append(
                {
                    "field": f"{prefix}.image",
                    "change": "changed",
                    "old": before.get("image"),
                    "new": after.get("image"),
                }
            )
        entries += _keyed(f"{prefix}.env", _dict(before.get("env")), _dict(after.get("env")))
        for field in ("env_from", "args", "command", "other"):
            if before.get(field) != after.get(field):
                label = {"env_from": "envFrom", "other": "spec"}.get(field, field)
                entries.append({"field": f"{prefix}.{label}", "change": "changed"})
        if before.get("resources") != after.get("resources"):
            entries.append(
                {
                    "field": f"{prefix}.resources",
                    "change": "changed",
                    "old": before.get("resources"),
                    "new": after.get("resources"),
                }
            )
    entries += _keyed("volumes", _dict(old.get("volumes")), _dict(new.get("volumes")))
    if old.get("pod") != new.get("pod"):
        entries.append({"field": "pod", "change": "changed"})
    if old.get("template_meta") != new.get("template_meta"):
        entries.append({"field": "template.metadata", "change": "changed"})
    if old.get("restarted_at") != new.get("restarted_at"):
        entries.append(
            {
                "field": "restartedAt",
                "change": "changed",
                "old": old.get("restarted_at"),
                "new": new.get("restarted_at"),
            }
        )
    return entries


def diff_configmap(old: JsonDict, new: JsonDict) -> list[JsonDict]:
    """Key-level changes; values appear only where both states hold them (policy-allowed)."""
    entries: list[JsonDict] = []
    for section, label in (("data", "data"), ("binary", "binaryData")):
        before, after = _dict(old.get(section)), _dict(new.get(section))
        for entry in _keyed(label, before, after):
            key = entry["field"].split(".", 1)[1]
            entry["key"] = key
            if key in before:
                entry["old_hash"] = before[key]
            if key in after:
                entry["new_hash"] = after[key]
            if section == "data":
                if key in _dict(old.get("values")):
                    entry["old"] = old["values"][key]
                if key in _dict(new.get("values")):
                    entry["new"] = new["values"][key]
            entries.append(entry)
    return entries


def diff_hpa_spec(old: JsonDict, new: JsonDict) -> list[JsonDict]:
    before, after = _dict(old.get("spec")), _dict(new.get("spec"))
    return [
        {"field": key, "change": "changed", "old": before.get(key), "new": after.get(key)}
        for key in ("target", "minReplicas", "maxReplicas", "metrics", "behavior")
        if before.get(key) != after.get(key)
    ]
