"""Turning the difference between two compact states into change drafts.

Every function here is pure: given the states and what is known about the object, it returns
the changes to record, with their summaries, details, tags and idempotent ``external_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from changetrail_operator import diffs
from changetrail_operator.autoscaling import PendingScale
from changetrail_operator.drafts import ChangeDraft, ChangeType
from changetrail_operator.hashing import JsonDict, content_hash
from changetrail_operator.managers import changed_by
from changetrail_operator.mapping import tags
from changetrail_operator.policies import Policy

SOURCE = "kubernetes"
SUMMARY_LIMIT = 500
_LISTED = 4  # keys or fields named in a summary before "+N more"


@dataclass(frozen=True, slots=True)
class ObjectContext:
    """What is known about the object a change happened to, besides its states."""

    cluster: str
    kind: str
    uid: str
    namespace: str | None
    name: str
    environment: str
    policy: Policy
    service: str | None = None
    resource_version: str | None = None
    change_cause: str | None = None
    # The object as last seen, when the change is observed live: managedFields name the author.
    body: Mapping[str, Any] | None = None
    consumers: tuple[str, ...] = ()
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _draft(
    ctx: ObjectContext,
    *,
    what: str,
    version: str,
    summary: str,
    change_type: ChangeType,
    diff: Sequence[JsonDict] = (),
    paths: Sequence[Sequence[str]] = (),
    extra_tags: Sequence[str] = (),
    extra_details: JsonDict | None = None,
    occurred_at: datetime | None = None,
    author: str | None = None,
) -> ChangeDraft:
    written_at = None
    if author is None and ctx.body is not None:
        author, written_at = changed_by(ctx.body, paths)
    details: JsonDict = {
        "kubernetes": {
            "cluster": ctx.cluster,
            "kind": ctx.kind,
            "namespace": ctx.namespace,
            "name": ctx.name,
            "uid": ctx.uid,
        },
        "diff": list(diff),
    }
    if ctx.policy.namespace is not None or ctx.policy.name != "defaults":
        details["policy"] = ctx.policy.reference
    if ctx.change_cause:
        details["change_cause"] = ctx.change_cause
    details.update(extra_details or {})
    return ChangeDraft(
        summary=summary[:SUMMARY_LIMIT],
        change_type=change_type,
        description=ctx.change_cause,
        source=SOURCE,
        service_name=ctx.service,
        environment=ctx.environment,
        risk_level=ctx.policy.risk_for(change_type),
        changed_by=author,
        external_id=f"k8s:{ctx.cluster}:{ctx.kind}:{ctx.uid}:{what}:{version}"[:255],
        tags=tags(ctx.cluster, ctx.namespace, ctx.kind, *extra_tags),
        occurred_at=occurred_at or _parse_time(written_at) or ctx.now,
        details=details,
    )


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f", +{len(names) - _LISTED} more" if len(names) > _LISTED else "")


def image_transition(old: str | None, new: str | None) -> str:
    """``registry/api:1.4.2`` → ``registry/api:1.5.0`` reads as ``api:1.4.2 → 1.5.0``."""
    old, new = old or "", new or ""
    old_repo, _, old_tag = old.rpartition(":") if ":" in old.rsplit("/", 1)[-1] else (old, "", "")
    new_repo, _, new_tag = new.rpartition(":") if ":" in new.rsplit("/", 1)[-1] else (new, "", "")
    if old_repo == new_repo and old_tag and new_tag:
        return f"{new_repo.rsplit('/', 1)[-1]}:{old_tag} → {new_tag}"
    return f"{old} → {new}"


def _short_image(image: str) -> str:
    return image.rsplit("/", 1)[-1]


def _template_phrases(diff: Sequence[JsonDict]) -> list[str]:
    images = [
        image_transition(entry["old"], entry["new"])
        for entry in diff
        if entry["field"].endswith(".image")
    ]
    others: list[str] = []
    for entry in diff:
        parts = entry["field"].split(".")
        if entry["field"].endswith(".image") or entry["field"] == "restartedAt":
            continue
        if parts[0] == "containers" and len(parts) == 2:
            others.append(f"container {parts[1]} {entry['change']}")
        elif parts[0] == "containers" and parts[2] == "env" and len(parts) > 3:
            others.append(f"env {'.'.join(parts[3:])}")
        elif parts[0] == "containers":
            others.append(f"{parts[2]} ({parts[1]})")
        elif parts[0] == "volumes":
            others.append(f"volume {parts[1]} {entry['change']}")
        else:
            others.append(entry["field"])
    return images + sorted(set(others), key=others.index)


def _images(state: JsonDict) -> list[str]:
    containers: Mapping[str, Any] = state.get("containers") or {}
    return [
        str(facts.get("image"))
        for name, facts in sorted(containers.items())
        if not name.startswith("init:")
    ]


def _generation_version(state: JsonDict) -> str:
    generation = state.get("generation")
    return f"g{generation}" if generation is not None else f"t{state.get('template')}"


def deployment_changes(
    old: JsonDict, new: JsonDict, ctx: ObjectContext, *, autoscaled: bool
) -> list[ChangeDraft]:
    """Rollout, rollback, restart and manual scaling of a Deployment, in that order."""
    drafts: list[ChangeDraft] = []
    template_paths = [("spec", "template")]
    if old.get("template") != new.get("template"):
        diff = diffs.diff_pod_template(old, new)
        only_restart = bool(diff) and all(entry["field"] == "restartedAt" for entry in diff)
        earlier = [entry for entry in old.get("history") or [] if entry[0] == new["template"]]
        if earlier and not only_restart:
            revision = earlier[-1][1]
            images = ", ".join(_short_image(image) for image in _images(new))
            target = f"revision {revision}" if revision else "an earlier revision"
            drafts.append(
                _draft(
                    ctx,
                    what="rollback",
                    version=_generation_version(new),
                    summary=f"Roll back {ctx.ref} to {target} ({images})",
                    change_type=ChangeType.ROLLBACK,
                    diff=diff,
                    paths=template_paths,
                    extra_details={"to_revision": revision},
                )
            )
        elif only_restart:
            drafts.append(
                _draft(
                    ctx,
                    what="restart",
                    version=_generation_version(new),
                    summary=f"Restart {ctx.ref}",
                    change_type=ChangeType.DEPLOYMENT,
                    diff=diff,
                    paths=template_paths,
                    extra_tags=["restart"],
                )
            )
        else:
            phrases = _template_phrases(diff) or ["pod template changed"]
            drafts.append(
                _draft(
                    ctx,
                    what="rollout",
                    version=_generation_version(new),
                    summary=f"Deploy {ctx.ref}: {_listing(phrases)}",
                    change_type=ChangeType.DEPLOYMENT,
                    diff=diff,
                    paths=template_paths,
                )
            )
    # An HPA owns spec.replicas of the workloads it scales: its own records say why.
    if old.get("replicas") != new.get("replicas") and not autoscaled:
        before, after = old.get("replicas"), new.get("replicas")
        drafts.append(
            _draft(
                ctx,
                what="scale",
                version=_generation_version(new),
                summary=f"Scale {ctx.ref} {before} → {after}",
                change_type=ChangeType.SCALING,
                diff=[{"field": "replicas", "change": "changed", "old": before, "new": after}],
                paths=[("spec", "replicas")],
            )
        )
    return drafts


def _content_version(old: JsonDict | None, new: JsonDict, ctx: ObjectContext) -> str:
    if ctx.resource_version:
        return f"rv{ctx.resource_version}"
    return f"{content_hash(old, 12)}-{content_hash(new, 12)}"


def configmap_changes(old: JsonDict, new: JsonDict, ctx: ObjectContext) -> list[ChangeDraft]:
    diff = diffs.diff_configmap(old, new)
    if not diff:
        return []
    keys = [entry["key"] for entry in diff]
    noun = "key" if len(keys) == 1 else "keys"
    paths = [("data", key) for key in keys] + [("binaryData", key) for key in keys]
    return [
        _draft(
            ctx,
            what="data",
            version=_content_version(old, new, ctx),
            summary=f"Config {ctx.ref}: {len(keys)} {noun} changed ({_listing(keys)})",
            change_type=ChangeType.CONFIG_CHANGE,
            diff=diff,
            paths=paths,
            extra_details={"consumers": list(ctx.consumers)},
        )
    ]


def hpa_spec_changes(old: JsonDict, new: JsonDict, ctx: ObjectContext) -> list[ChangeDraft]:
    diff = diffs.diff_hpa_spec(old, new)
    if not diff:
        return []
    phrases = [
        f"{entry['field']} {_render(entry['old'])} → {_render(entry['new'])}"
        if entry["field"] != "behavior"
        else "behavior changed"
        for entry in diff
    ]
    return [
        _draft(
            ctx,
            what="spec",
            version=_generation_version(new)
            if new.get("generation")
            else _content_version(old, new, ctx),
            summary=f"HPA {ctx.ref}: {_listing(phrases)}",
            change_type=ChangeType.CONFIG_CHANGE,
            diff=diff,
            paths=[("spec",)],
        )
    ]


def _render(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


def autoscale_change(pending: PendingScale, target: str | None, ctx: ObjectContext) -> ChangeDraft:
    workload = f"{ctx.namespace}/{target.split('/', 1)[-1]}" if target else ctx.ref
    because = f" ({pending.metric})" if pending.metric else ""
    return _draft(
        ctx,
        what="autoscale",
        version=f"{pending.last_scale or 'unknown'}:{pending.from_replicas}-{pending.to_replicas}",
        summary=f"Autoscale {workload} {pending.from_replicas} → {pending.to_replicas}{because}",
        change_type=ChangeType.SCALING,
        diff=[
            {
                "field": "desiredReplicas",
                "change": "changed",
                "old": pending.from_replicas,
                "new": pending.to_replicas,
            }
        ],
        extra_tags=["autoscaling"],
        extra_details={"metric": pending.metric, "target": target},
        occurred_at=_parse_time(pending.last_scale),
        # The HPA controller decided; the status write is the controller manager's.
        author="horizontal-pod-autoscaler",
    )


_LIFECYCLE_TYPES = {
    "Deployment": ChangeType.DEPLOYMENT,
    "ConfigMap": ChangeType.CONFIG_CHANGE,
    "HorizontalPodAutoscaler": ChangeType.CONFIG_CHANGE,
}


def _describe(kind: str, state: JsonDict) -> str:
    if kind == "Deployment":
        return ", ".join(_short_image(image) for image in _images(state))
    if kind == "ConfigMap":
        count = len(state.get("data") or {}) + len(state.get("binary") or {})
        return f"{count} key" + ("" if count == 1 else "s")
    spec = state.get("spec") or {}
    return f"{spec.get('minReplicas')} to {spec.get('maxReplicas')} replicas"


def created_change(new: JsonDict, ctx: ObjectContext, created_at: datetime | None) -> ChangeDraft:
    return _draft(
        ctx,
        what="created",
        version="1",
        summary=f"Create {ctx.kind} {ctx.ref} ({_describe(ctx.kind, new)})",
        change_type=_LIFECYCLE_TYPES.get(ctx.kind, ChangeType.OTHER),
        extra_tags=["created"],
        occurred_at=created_at,
    )


def deleted_change(old: JsonDict, ctx: ObjectContext) -> ChangeDraft:
    return _draft(
        ctx,
        what="deleted",
        version="1",
        summary=f"Delete {ctx.kind} {ctx.ref} ({_describe(ctx.kind, old)})",
        change_type=_LIFECYCLE_TYPES.get(ctx.kind, ChangeType.OTHER),
        extra_tags=["deleted"],
    )
