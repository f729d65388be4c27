"""HorizontalPodAutoscalers: settled scaling decisions, and edits of their spec.

The state keeps an HPA's spec (target, bounds, metric targets) and its decision, the desired
replica count; current replicas and metric readings churn constantly and are deliberately not
kept. A decision is held back until it settles (see ``autoscaling``): the state recorded
meanwhile keeps the previous decision, so a restart still finds the new one to record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from changetrail_operator import autoscaling
from changetrail_operator.autoscaling import PendingScale
from changetrail_operator.bodies import as_dict, as_list, metadata, opt_int, opt_str, parse_time
from changetrail_operator.changes import ObjectContext, content_version, draft, listing
from changetrail_operator.drafts import ChangeDraft, ChangeType
from changetrail_operator.hashing import JsonDict, content_hash
from changetrail_operator.kinds.base import Decision, Kind, Subject
from changetrail_operator.paths import without_paths
from changetrail_operator.resources import ApiResource
from changetrail_operator.workloads import Workloads

if TYPE_CHECKING:
    from changetrail_operator.policies import Policy

# The HPA controller decided; the status write is the controller manager's.
AUTHOR = "horizontal-pod-autoscaler"
# The spec fields of the state, in the order a summary names them.
_SPEC_FIELDS = ("target", "minReplicas", "maxReplicas", "metrics", "behavior")


@dataclass(frozen=True, slots=True)
class HpaSpec:
    target: str | None  # "Deployment/api"
    min_replicas: int | None
    max_replicas: int | None
    metrics: tuple[str, ...]  # readable targets: "cpu 70%"
    behavior: str | None  # hash of the scaling behavior, when set

    def to_json(self) -> JsonDict:
        return {
            "target": self.target,
            "minReplicas": self.min_replicas,
            "maxReplicas": self.max_replicas,
            "metrics": list(self.metrics),
            "behavior": self.behavior,
        }


@dataclass(frozen=True, slots=True)
class HpaState:
    spec: HpaSpec
    desired: int | None  # the decision: status.desiredReplicas
    last_scale: str | None  # status.lastScaleTime of that decision
    generation: int | None


@dataclass(frozen=True, slots=True)
class HeldScale:
    """A scaling decision held back, with the workload it scales."""

    scale: PendingScale
    target: str | None

    @property
    def changed_at(self) -> float:
        return self.scale.changed_at


def hpa_target(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """The ``(kind, name)`` of the workload an HPA scales."""
    ref = as_dict(as_dict(body.get("spec")).get("scaleTargetRef"))
    if ref.get("kind") and ref.get("name"):
        return str(ref["kind"]), str(ref["name"])
    return None


def hpa_state(body: Mapping[str, Any], ignore_paths: Iterable[str] = ()) -> HpaState:
    body = without_paths(dict(body), ignore_paths)
    spec = as_dict(body.get("spec"))
    status = as_dict(body.get("status"))
    target = hpa_target(body)
    return HpaState(
        spec=HpaSpec(
            target=f"{target[0]}/{target[1]}" if target else None,
            min_replicas=opt_int(spec.get("minReplicas", 1)),
            max_replicas=opt_int(spec.get("maxReplicas")),
            metrics=tuple(metric_targets(spec)),
            behavior=content_hash(spec.get("behavior"), 8) if spec.get("behavior") else None,
        ),
        desired=opt_int(status.get("desiredReplicas")),
        last_scale=opt_str(status.get("lastScaleTime")),
        generation=opt_int(metadata(body).get("generation")),
    )


def metric_targets(spec: Mapping[str, Any]) -> list[str]:
    """Readable metric targets: ``cpu 70%``, ``memory 500Mi``, ``requests_per_second 100``."""
    targets: list[str] = []
    if (cpu := spec.get("targetCPUUtilizationPercentage")) is not None:
        targets.append(f"cpu {cpu}%")
    for metric in as_list(spec.get("metrics")):
        name, target = _metric_name_and_block(as_dict(metric), "target")
        targets.append(f"{name} {_quantity(target)}".strip())
    return targets


def driving_metric(body: Mapping[str, Any]) -> str | None:
    """The metric that most exceeds (or undershoots) its target: ``cpu 91%/70%``.

    The HPA controller scales to the largest proposal among its metrics, so the metric with
    the highest current/target ratio is the one that drove the decision.
    """
    spec = as_dict(body.get("spec"))
    status = as_dict(body.get("status"))
    if (current_cpu := status.get("currentCPUUtilizationPercentage")) is not None:
        target_cpu = spec.get("targetCPUUtilizationPercentage")
        return f"cpu {current_cpu}%/{target_cpu}%" if target_cpu else f"cpu {current_cpu}%"
    targets = dict(
        _metric_name_and_block(as_dict(metric), "target") for metric in as_list(spec.get("metrics"))
    )
    best: tuple[float, str] | None = None
    for metric in as_list(status.get("currentMetrics")):
        name, current = _metric_name_and_block(as_dict(metric), "current")
        target = targets.get(name, {})
        text = f"{name} {_quantity(current)}/{_quantity(target)}".rstrip("/")
        ratio = _ratio(current, target)
        if best is None or ratio > best[0]:
            best = (ratio, text)
    return best[1] if best else None


def _metric_name_and_block(metric: Mapping[str, Any], block: str) -> tuple[str, Mapping[str, Any]]:
    kind = str(metric.get("type", ""))
    source = as_dict(metric.get(kind[:1].lower() + kind[1:])) if kind else {}
    if kind in {"Resource", "ContainerResource"}:
        name = str(source.get("name", kind.lower()))
    else:
        name = str(as_dict(source.get("metric")).get("name", kind.lower()))
    return name, as_dict(source.get(block))


def _quantity(block: Mapping[str, Any]) -> str:
    if (utilization := block.get("averageUtilization")) is not None:
        return f"{utilization}%"
    for key in ("averageValue", "value"):
        if (value := block.get(key)) is not None:
            return str(value)
    return ""


def _ratio(current: Mapping[str, Any], target: Mapping[str, Any]) -> float:
    for key in ("averageUtilization", "averageValue", "value"):
        try:
            return float(str(current[key]).rstrip("m%")) / float(str(target[key]).rstrip("m%"))
        except (KeyError, ValueError, ZeroDivisionError):
            continue
    return 0.0


class HpaKind(Kind[HpaState]):
    name = "HorizontalPodAutoscaler"
    resource = ApiResource("autoscaling", "v2", "horizontalpodautoscalers")
    lifecycle_type = ChangeType.CONFIG_CHANGE
    held_decisions = "HPA decisions"

    def track(
        self, event_type: str | None, uid: str, body: Mapping[str, Any], workloads: Workloads
    ) -> None:
        if event_type == "DELETED":
            workloads.forgot_autoscaler(uid)
        else:
            workloads.saw_autoscaler(uid, metadata(body).get("namespace"), hpa_target(body))

    def subject(self, body: Mapping[str, Any], workloads: Workloads) -> Subject:
        # An HPA's changes are the scaled workload's: they belong to its service.
        target = hpa_target(body)
        return Subject(name=target[1] if target else str(metadata(body).get("name")))

    def snapshot(self, body: Mapping[str, Any], policy: Policy) -> HpaState:
        return hpa_state(body, policy.ignore_paths)

    def dump(self, state: HpaState) -> JsonDict:
        return {
            "spec": state.spec.to_json(),
            "desired": state.desired,
            "last_scale": state.last_scale,
            "generation": state.generation,
        }

    def load(self, data: JsonDict) -> HpaState:
        spec = as_dict(data.get("spec"))
        return HpaState(
            spec=HpaSpec(
                target=opt_str(spec.get("target")),
                min_replicas=opt_int(spec.get("minReplicas")),
                max_replicas=opt_int(spec.get("maxReplicas")),
                metrics=tuple(str(metric) for metric in as_list(spec.get("metrics"))),
                behavior=opt_str(spec.get("behavior")),
            ),
            desired=opt_int(data.get("desired")),
            last_scale=opt_str(data.get("last_scale")),
            generation=opt_int(data.get("generation")),
        )

    def describe(self, state: HpaState) -> str:
        return f"{state.spec.min_replicas} to {state.spec.max_replicas} replicas"

    def changes(
        self, old: HpaState, new: HpaState, ctx: ObjectContext, workloads: Workloads
    ) -> list[ChangeDraft]:
        drafts = _spec_changes(old, new, ctx)
        if (
            old.desired != new.desired
            and new.desired is not None
            and not autoscaling.is_first_report(old.desired, old.last_scale, new.last_scale)
        ):
            # Only on catch-up paths (a restart, a re-diff): live decisions are held back.
            pending = PendingScale(old.desired, new.desired, None, new.last_scale, 0.0)
            drafts.append(autoscale_change(pending, new.spec.target, ctx))
        return drafts

    def hold(
        self,
        body: Mapping[str, Any],
        recorded: HpaState,
        new: HpaState,
        held: Decision | None,
        now: float,
    ) -> tuple[HpaState, Decision | None]:
        if autoscaling.is_first_report(recorded.desired, recorded.last_scale, new.last_scale):
            return new, None
        pending = autoscaling.observe(
            held.scale if isinstance(held, HeldScale) else None,
            recorded.desired,
            new.desired,
            driving_metric(body),
            new.last_scale,
            now,
        )
        state = replace(new, desired=recorded.desired, last_scale=recorded.last_scale)
        return state, HeldScale(pending, new.spec.target) if pending is not None else None

    def settle(
        self, decision: Decision, recorded: HpaState, ctx: ObjectContext
    ) -> tuple[HpaState, ChangeDraft] | None:
        if not isinstance(decision, HeldScale) or autoscaling.is_noop(decision.scale):
            return None
        scale = decision.scale
        state = replace(recorded, desired=scale.to_replicas, last_scale=scale.last_scale)
        return state, autoscale_change(scale, decision.target, ctx)


def _spec_changes(old: HpaState, new: HpaState, ctx: ObjectContext) -> list[ChangeDraft]:
    before, after = old.spec.to_json(), new.spec.to_json()
    diff = [
        {"field": key, "change": "changed", "old": before[key], "new": after[key]}
        for key in _SPEC_FIELDS
        if before[key] != after[key]
    ]
    if not diff:
        return []
    phrases = [
        f"{entry['field']} {_render(entry['old'])} → {_render(entry['new'])}"
        if entry["field"] != "behavior"
        else "behavior changed"
        for entry in diff
    ]
    return [
        draft(
            ctx,
            what="spec",
            version=f"g{new.generation}" if new.generation else content_version(ctx),
            summary=f"HPA {ctx.ref}: {listing(phrases)}",
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
    return draft(
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
        occurred_at=parse_time(pending.last_scale),
        author=AUTHOR,
    )
