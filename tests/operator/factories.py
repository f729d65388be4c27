"""Kubernetes objects as the API server would return them, built from a few facts."""

from __future__ import annotations

import base64
import copy
import itertools
import uuid
from typing import Any

JsonDict = dict[str, Any]

_resource_versions = itertools.count(1000)


def uid() -> str:
    return str(uuid.uuid4())


def managed(
    manager: str, time: str, *fields: tuple[str, ...], subresource: str | None = None
) -> JsonDict:
    """A managedFields entry owning the given field paths."""
    tree: JsonDict = {}
    for path in fields:
        node = tree
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    entry: JsonDict = {
        "manager": manager,
        "operation": "Update",
        "apiVersion": "apps/v1",
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": tree,
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def deployment(
    name: str = "api",
    namespace: str = "payments",
    *,
    image: str = "registry.example.com/api:1.4.2",
    replicas: int | None = 3,
    env: dict[str, str] | None = None,
    configmaps: tuple[str, ...] = (),
    generation: int = 1,
    revision: str | None = "1",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    object_uid: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
    managed_fields: list[JsonDict] | None = None,
) -> JsonDict:
    container: JsonDict = {
        "name": name,
        "image": image,
        "env": [{"name": key, "value": value} for key, value in (env or {}).items()],
        "resources": {"requests": {"cpu": "500m"}},
    }
    volumes = [{"name": cm, "configMap": {"name": cm}} for cm in configmaps]
    meta_annotations = dict(annotations or {})
    if revision is not None:
        meta_annotations["deployment.kubernetes.io/revision"] = revision
    spec: JsonDict = {
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [container], "volumes": volumes},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": object_uid or uid(),
            "generation": generation,
            "resourceVersion": str(next(_resource_versions)),
            "creationTimestamp": created,
            "labels": dict(labels or {}),
            "annotations": meta_annotations,
            "managedFields": list(managed_fields or []),
        },
        "spec": spec,
        "status": {"replicas": replicas or 0, "readyReplicas": replicas or 0},
    }


def configmap(
    name: str = "api-config",
    namespace: str = "payments",
    *,
    data: dict[str, str] | None = None,
    binary: dict[str, str] | None = None,
    object_uid: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    created: str = "2026-01-01T00:00:00Z",
) -> JsonDict:
    body: JsonDict = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": object_uid or uid(),
            "resourceVersion": str(next(_resource_versions)),
            "creationTimestamp": created,
            "labels": dict(labels or {}),
            "annotations": dict(annotations or {}),
        },
        "data": dict(data if data is not None else {"LOG_LEVEL": "info", "TIMEOUT": "30"}),
    }
    if binary:
        body["binaryData"] = dict(binary)
    return body


def hpa(
    name: str = "api",
    namespace: str = "payments",
    *,
    target: str = "api",
    min_replicas: int = 2,
    max_replicas: int = 10,
    cpu_target: int = 70,
    desired: int = 3,
    cpu_current: int = 50,
    last_scale: str | None = "2026-01-01T00:00:00Z",
    generation: int = 1,
    object_uid: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
) -> JsonDict:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": object_uid or uid(),
            "generation": generation,
            "resourceVersion": str(next(_resource_versions)),
            "creationTimestamp": created,
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu_target},
                    },
                }
            ],
        },
        "status": {
            "currentReplicas": desired,
            "desiredReplicas": desired,
            "lastScaleTime": last_scale,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": cpu_current, "averageValue": "400m"},
                    },
                }
            ],
        },
    }


def evolve(body: JsonDict, *, spec_change: bool = True, **paths: Any) -> JsonDict:
    """A copy of ``body`` after an API server write: new resourceVersion, generation on spec.

    ``paths`` use ``__`` for nesting: ``spec__replicas=5``.
    """
    new = copy.deepcopy(body)
    for dotted, value in paths.items():
        parts = dotted.split("__")
        node = new
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    new["metadata"]["resourceVersion"] = str(next(_resource_versions))
    if spec_change and "generation" in new["metadata"]:
        new["metadata"]["generation"] += 1
    return new


def with_image(body: JsonDict, image: str, **kwargs: Any) -> JsonDict:
    new = evolve(body, **kwargs)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return new


def _workload(
    kind: str,
    name: str,
    namespace: str,
    *,
    image: str,
    spec: JsonDict,
    status: JsonDict,
    generation: int,
    annotations: dict[str, str] | None,
    object_uid: str | None,
    created: str,
    api_version: str = "apps/v1",
) -> JsonDict:
    container = {"name": name, "image": image, "resources": {"requests": {"cpu": "100m"}}}
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": object_uid or uid(),
            "generation": generation,
            "resourceVersion": str(next(_resource_versions)),
            "creationTimestamp": created,
            "labels": {},
            "annotations": dict(annotations or {}),
            "managedFields": [],
        },
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
            **spec,
        },
        "status": status,
    }


def statefulset(
    name: str = "postgres",
    namespace: str = "data",
    *,
    image: str = "registry.example.com/postgres:16.3",
    replicas: int = 3,
    partition: int | None = None,
    on_delete: bool = False,
    update_revision: str | None = "postgres-7d9f8c6b5",
    generation: int = 1,
    object_uid: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
) -> JsonDict:
    strategy: JsonDict = {"type": "OnDelete"} if on_delete else {"type": "RollingUpdate"}
    if not on_delete:
        strategy["rollingUpdate"] = {"partition": partition or 0}
    status: JsonDict = {
        "observedGeneration": generation,
        "replicas": replicas,
        "readyReplicas": replicas,
        "updatedReplicas": replicas,
        "currentRevision": update_revision,
    }
    if update_revision is not None:
        status["updateRevision"] = update_revision
    return _workload(
        "StatefulSet",
        name,
        namespace,
        image=image,
        spec={"replicas": replicas, "serviceName": name, "updateStrategy": strategy},
        status=status,
        generation=generation,
        annotations=None,
        object_uid=object_uid,
        created=created,
    )


def daemonset(
    name: str = "node-agent",
    namespace: str = "monitoring",
    *,
    image: str = "registry.example.com/agent:2.1",
    on_delete: bool = False,
    nodes: int = 4,
    generation: int = 1,
    object_uid: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
) -> JsonDict:
    return _workload(
        "DaemonSet",
        name,
        namespace,
        image=image,
        spec={"updateStrategy": {"type": "OnDelete" if on_delete else "RollingUpdate"}},
        status={
            "observedGeneration": generation,
            "desiredNumberScheduled": nodes,
            "updatedNumberScheduled": nodes,
            "numberAvailable": nodes,
        },
        generation=generation,
        annotations=None,
        object_uid=object_uid,
        created=created,
    )


def rollout(
    name: str = "web",
    namespace: str = "shop",
    *,
    image: str = "registry.example.com/web:2.3",
    replicas: int = 4,
    revision: str = "1",
    steps: list[JsonDict] | None = None,
    blue_green: bool = False,
    generation: int = 1,
    object_uid: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
) -> JsonDict:
    strategy: JsonDict = (
        {"blueGreen": {"activeService": f"{name}-active"}}
        if blue_green
        else {"canary": {"steps": steps or [{"setWeight": 25}, {"pause": {}}, {"setWeight": 75}]}}
    )
    return _workload(
        "Rollout",
        name,
        namespace,
        image=image,
        spec={"replicas": replicas, "strategy": strategy},
        status={
            "observedGeneration": str(generation),
            "phase": "Healthy",
            "currentStepIndex": len(steps or [None] * 3),
        },
        generation=generation,
        annotations={"rollout.argoproj.io/revision": revision},
        object_uid=object_uid,
        created=created,
        api_version="argoproj.io/v1alpha1",
    )


def cronjob(
    name: str = "backup",
    namespace: str = "ops",
    *,
    image: str = "registry.example.com/backup:1.2",
    schedule: str = "0 2 * * *",
    suspend: bool = False,
    generation: int = 1,
    object_uid: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
) -> JsonDict:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": object_uid or uid(),
            "generation": generation,
            "resourceVersion": str(next(_resource_versions)),
            "creationTimestamp": created,
        },
        "spec": {
            "schedule": schedule,
            "suspend": suspend,
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 2,
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": name, "image": image}],
                        }
                    },
                }
            },
        },
        "status": {"lastScheduleTime": "2026-01-01T02:00:00Z"},
    }


def secret(
    name: str = "db",
    namespace: str = "payments",
    *,
    data: dict[str, str] | None = None,
    kind: str = "Opaque",
    annotations: dict[str, str] | None = None,
    object_uid: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
) -> JsonDict:
    """A Secret; ``data`` holds plain values, encoded here as the API server returns them."""
    values = data if data is not None else {"USER": "app", "PASSWORD": "hunter2"}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": object_uid or uid(),
            "resourceVersion": str(next(_resource_versions)),
            "creationTimestamp": created,
            "annotations": dict(annotations or {}),
        },
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in values.items()},
    }
