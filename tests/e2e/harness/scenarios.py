"""Steps several scenarios share: a workload to change, and a burst of changes to it."""

from __future__ import annotations

from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import configmap, deployment, image
from tests.e2e.harness.records import NamespaceRecords


def workload(kubectl: Kubectl, records: NamespaceRecords, namespace: str) -> None:
    """A Deployment consuming a ConfigMap, rolled out and recorded."""
    kubectl.apply(
        configmap("api-config", {"LOG_LEVEL": "info"}),
        deployment("api", tag="1.0.0", configmap="api-config"),
        namespace=namespace,
    )
    kubectl.rollout_status("api", namespace)
    records.settled()


def rollout(kubectl: Kubectl, namespace: str, tag: str) -> None:
    kubectl.run("-n", namespace, "set", "image", "deployment/api", f"api={image(tag)}")


def config_and_scale(kubectl: Kubectl, namespace: str, log_level: str) -> list[str]:
    """A config edit and a scale; returns the summaries they should produce."""
    kubectl.apply(configmap("api-config", {"LOG_LEVEL": log_level}), namespace=namespace)
    replicas = kubectl.get("deployment", "api", namespace)["spec"]["replicas"]
    kubectl.run("-n", namespace, "scale", "deployment/api", f"--replicas={replicas + 1}")
    return [
        f"Config {namespace}/api-config: 1 key changed (LOG_LEVEL)",
        f"Scale {namespace}/api {replicas} → {replicas + 1}",
    ]


def three_changes(kubectl: Kubectl, namespace: str, tag: str, log_level: str) -> list[str]:
    """A rollout, a config edit and a scale; returns the summaries of the last two (the
    rollout's names the image it replaced)."""
    rollout(kubectl, namespace, tag)
    return config_and_scale(kubectl, namespace, log_level)
