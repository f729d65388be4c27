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
