"""Factories for the objects the scenarios create; each takes only what a test varies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Manifest = dict[str, Any]
IMAGE_REPOSITORY = "registry.example.com/shop/api"


def image(tag: str, repository: str = IMAGE_REPOSITORY) -> str:
    return f"{repository}:{tag}"


def deployment(
    name: str,
    tag: str = "1.0.0",
    replicas: int = 1,
    configmap: str | None = None,
    annotations: dict[str, str] | None = None,
) -> Manifest:
    container: Manifest = {"name": name, "image": image(tag)}
    if configmap is not None:
        container["envFrom"] = [{"configMapRef": {"name": configmap}}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            # Old pods go at once, so a rollout on the fake node completes in seconds.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "100%"}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    }


def configmap(name: str, data: dict[str, str], **metadata: Any) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, **metadata},
        "data": data,
    }


def hpa(name: str, min_replicas: int = 1, max_replicas: int = 10, cpu_target: int = 70) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
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
    }


def hpa_status(current: int, desired: int, cpu_percent: int) -> Manifest:
    """The status an autoscaler writes after measuring ``cpu_percent`` utilisation.

    Like the HPA controller, it stamps ``lastScaleTime`` only when it rescales.
    """
    rescaled = {"lastScaleTime": _now()} if desired != current else {}
    return {
        "status": {
            **rescaled,
            "currentReplicas": current,
            "desiredReplicas": desired,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": cpu_percent, "averageValue": "100m"},
                    },
                }
            ],
        }
    }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Workloads of the other kinds the operator watches. They run on the fake node (its label
# below), so their pods turn ready in seconds whatever their image.
FAKE_NODE = {"type": "kwok"}


def _pod_template(name: str, tag: str) -> Manifest:
    return {
        "metadata": {"labels": {"app": name}},
        "spec": {
            "nodeSelector": FAKE_NODE,
            # Replaced pods go at once: a rollout waits for no grace period on the fake node.
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": name, "image": image(tag)}],
        },
    }


def statefulset(
    name: str, tag: str = "1.0.0", replicas: int = 2, update_strategy: Manifest | None = None
) -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            # Pods start together; updates still go one pod at a time, highest ordinal first.
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": name}},
            "updateStrategy": update_strategy or {"type": "RollingUpdate"},
            "template": _pod_template(name, tag),
        },
    }


def daemonset(name: str, tag: str = "1.0.0") -> Manifest:
    template = _pod_template(name, tag)
    # The DaemonSet controller places pods by the template alone: a namespace's default
    # tolerations come too late for it to consider the fake node, which may be tainted.
    template["spec"]["tolerations"] = [{"operator": "Exists"}]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": template},
    }


def cronjob(name: str, tag: str = "1.0.0", schedule: str = "0 2 * * *") -> Manifest:
    template = _pod_template(name, tag)
    template["spec"]["restartPolicy"] = "Never"
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {"spec": {"backoffLimit": 1, "template": template}},
        },
    }
