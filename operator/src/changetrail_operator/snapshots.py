"""Compact states: what the operator keeps per watched object instead of the object.

A state holds hashes of values, plus the few short facts a summary needs (image references,
replica counts, resource quantities, HPA bounds). Secrets in env values or ConfigMap data never
enter a state: only their hashes do, unless a policy explicitly allows short values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from changetrail_operator.hashing import JsonDict, content_hash, text_hash
from changetrail_operator.paths import without_paths

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"
# How many earlier pod templates a Deployment remembers, to tell a rollback from a rollout.
# Kubernetes keeps 10 old ReplicaSets by default (revisionHistoryLimit), so do we.
HISTORY_LIMIT = 10


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# Deployments -------------------------------------------------------------------------------


def _container_facts(container: Mapping[str, Any]) -> JsonDict:
    env = {
        str(item.get("name")): content_hash(
            {"value": item.get("value"), "valueFrom": item.get("valueFrom")}, 8
        )
        for item in _list(container.get("env"))
        if isinstance(item, Mapping)
    }
    known = {"name", "image", "env", "envFrom", "args", "command", "resources"}
    rest = {key: value for key, value in container.items() if key not in known}
    return {
        "image": container.get("image"),
        "env": env,
        "env_from": content_hash(container.get("envFrom"), 8),
        "args": content_hash(container.get("args"), 8),
        "command": content_hash(container.get("command"), 8),
        # Quantities are short and never secret; keeping them lets a summary say "cpu 500m → 1".
        "resources": dict(_dict(container.get("resources"))),
        "other": content_hash(rest, 8),
    }


def referenced_configmaps(pod_spec: Mapping[str, Any]) -> list[str]:
    """Names of the ConfigMaps a pod spec mounts or reads into its environment."""
    names: set[str] = set()
    for volume in _list(pod_spec.get("volumes")):
        volume = _dict(volume)
        if name := _dict(volume.get("configMap")).get("name"):
            names.add(str(name))
        for source in _list(_dict(volume.get("projected")).get("sources")):
            if name := _dict(_dict(source).get("configMap")).get("name"):
                names.add(str(name))
    for key in ("containers", "initContainers"):
        for container in _list(pod_spec.get(key)):
            container = _dict(container)
            for env_from in _list(container.get("envFrom")):
                if name := _dict(_dict(env_from).get("configMapRef")).get("name"):
                    names.add(str(name))
            for env in _list(container.get("env")):
                ref = _dict(_dict(_dict(env).get("valueFrom")).get("configMapKeyRef"))
                if name := ref.get("name"):
                    names.add(str(name))
    return sorted(names)


def deployment_state(
    body: Mapping[str, Any], ignore_paths: Iterable[str] = (), history: list[Any] | None = None
) -> JsonDict:
    """The compact state of a Deployment (or any workload with a pod template)."""
    body = without_paths(dict(body), ignore_paths)
    meta = _meta(body)
    spec = _dict(body.get("spec"))
    template = _dict(spec.get("template"))
    template_meta = _dict(template.get("metadata"))
    annotations = _dict(template_meta.get("annotations"))
    pod_spec = _dict(template.get("spec"))
    containers: JsonDict = {}
    for key, prefix in (("initContainers", "init:"), ("containers", "")):
        for container in _list(pod_spec.get(key)):
            container = _dict(container)
            containers[prefix + str(container.get("name"))] = _container_facts(container)
    volumes = {
        str(_dict(volume).get("name")): content_hash(volume, 8)
        for volume in _list(pod_spec.get("volumes"))
    }
    pod_rest = {
        key: value
        for key, value in pod_spec.items()
        if key not in {"containers", "initContainers", "volumes"}
    }
    template_rest = {
        "labels": template_meta.get("labels"),
        "annotations": {key: value for key, value in annotations.items() if key != RESTARTED_AT},
    }
    replicas = spec.get("replicas")
    return {
        "template": content_hash(template),
        "restarted_at": annotations.get(RESTARTED_AT),
        "containers": containers,
        "volumes": volumes,
        "pod": content_hash(pod_rest, 8),
        "template_meta": content_hash(template_rest, 8),
        "replicas": replicas if isinstance(replicas, int) else None,
        "revision": _dict(meta.get("annotations")).get(REVISION),
        "generation": meta.get("generation"),
        "configmaps": referenced_configmaps(pod_spec),
        "history": list(history or []),
    }


def next_history(old: JsonDict | None, new: JsonDict) -> list[Any]:
    """The template history ``new`` should carry: earlier templates with their revisions."""
    if old is None:
        return list(new.get("history") or [])
    history = [entry for entry in old.get("history") or [] if entry[0] != new["template"]]
    if old.get("template") != new.get("template"):
        history.append([old["template"], old.get("revision"), _images(old)])
    return history[-HISTORY_LIMIT:]


def _images(state: JsonDict) -> list[str]:
    return [
        str(facts.get("image"))
        for name, facts in sorted(_dict(state.get("containers")).items())
        if not name.startswith("init:")
    ]


# ConfigMaps -------------------------------------------------------------------------------


def configmap_state(
    body: Mapping[str, Any],
    ignored_keys: Iterable[str] = (),
    visible_keys: Iterable[str] = (),
    max_value_bytes: int = 0,
) -> JsonDict:
    """Key names with value hashes; values only for keys a policy shows, and only if short."""
    ignored = list(ignored_keys)
    visible = list(visible_keys)

    def kept(key: str) -> bool:
        return not any(fnmatchcase(key, pattern) for pattern in ignored)

    data = {str(k): str(v) for k, v in _dict(body.get("data")).items() if kept(str(k))}
    binary = {str(k): str(v) for k, v in _dict(body.get("binaryData")).items() if kept(str(k))}
    values = {
        key: value
        for key, value in data.items()
        if any(fnmatchcase(key, pattern) for pattern in visible)
        and len(value.encode()) <= max_value_bytes
    }
    return {
        "data": {key: text_hash(value) for key, value in data.items()},
        "binary": {key: text_hash(value) for key, value in binary.items()},
        "values": values,
    }


# HorizontalPodAutoscalers ----------------------------------------------------------------


def metric_targets(spec: Mapping[str, Any]) -> list[str]:
    """Readable metric targets: ``cpu 70%``, ``memory 500Mi``, ``requests_per_second 100``."""
    targets: list[str] = []
    if (cpu := spec.get("targetCPUUtilizationPercentage")) is not None:
        targets.append(f"cpu {cpu}%")
    for metric in _list(spec.get("metrics")):
        name, target = _metric_name_and_block(_dict(metric), "target")
        targets.append(f"{name} {_quantity(target)}".strip())
    return targets


def _metric_name_and_block(metric: Mapping[str, Any], block: str) -> tuple[str, Mapping[str, Any]]:
    kind = str(metric.get("type", ""))
    source = _dict(metric.get(kind[:1].lower() + kind[1:])) if kind else {}
    if kind in {"Resource", "ContainerResource"}:
        name = str(source.get("name", kind.lower()))
    else:
        name = str(_dict(source.get("metric")).get("name", kind.lower()))
    return name, _dict(source.get(block))


def _quantity(block: Mapping[str, Any]) -> str:
    if (utilization := block.get("averageUtilization")) is not None:
        return f"{utilization}%"
    for key in ("averageValue", "value"):
        if (value := block.get(key)) is not None:
            return str(value)
    return ""


def driving_metric(body: Mapping[str, Any]) -> str | None:
    """The metric that most exceeds (or undershoots) its target: ``cpu 91%/70%``.

    The HPA controller scales to the largest proposal among its metrics, so the metric with
    the highest current/target ratio is the one that drove the decision.
    """
    spec = _dict(body.get("spec"))
    status = _dict(body.get("status"))
    if (current_cpu := status.get("currentCPUUtilizationPercentage")) is not None:
        target_cpu = spec.get("targetCPUUtilizationPercentage")
        return f"cpu {current_cpu}%/{target_cpu}%" if target_cpu else f"cpu {current_cpu}%"
    targets = {
        _metric_name_and_block(_dict(metric), "target")[0]: _metric_name_and_block(
            _dict(metric), "target"
        )[1]
        for metric in _list(spec.get("metrics"))
    }
    best: tuple[float, str] | None = None
    for metric in _list(status.get("currentMetrics")):
        name, current = _metric_name_and_block(_dict(metric), "current")
        target = targets.get(name, {})
        text = f"{name} {_quantity(current)}/{_quantity(target)}".rstrip("/")
        ratio = _ratio(current, target)
        if best is None or ratio > best[0]:
            best = (ratio, text)
    return best[1] if best else None


def _ratio(current: Mapping[str, Any], target: Mapping[str, Any]) -> float:
    for key in ("averageUtilization", "averageValue", "value"):
        try:
            return float(str(current[key]).rstrip("m%")) / float(str(target[key]).rstrip("m%"))
        except (KeyError, ValueError, ZeroDivisionError):
            continue
    return 0.0


def hpa_target(body: Mapping[str, Any]) -> tuple[str, str] | None:
    ref = _dict(_dict(body.get("spec")).get("scaleTargetRef"))
    if ref.get("kind") and ref.get("name"):
        return str(ref["kind"]), str(ref["name"])
    return None


def hpa_state(body: Mapping[str, Any], ignore_paths: Iterable[str] = ()) -> JsonDict:
    body = without_paths(dict(body), ignore_paths)
    spec = _dict(body.get("spec"))
    status = _dict(body.get("status"))
    target = hpa_target(body)
    desired = status.get("desiredReplicas")
    return {
        "spec": {
            "target": f"{target[0]}/{target[1]}" if target else None,
            "minReplicas": spec.get("minReplicas", 1),
            "maxReplicas": spec.get("maxReplicas"),
            "metrics": metric_targets(spec),
            "behavior": content_hash(spec.get("behavior"), 8) if spec.get("behavior") else None,
        },
        # The desired count is the HPA's decision; current replicas and metric readings churn
        # constantly and are deliberately not part of the state.
        "desired": desired if isinstance(desired, int) else None,
        "last_scale": status.get("lastScaleTime"),
        "generation": _meta(body).get("generation"),
    }
