"""Creating and deleting watched objects are changes too, each recorded once."""

from __future__ import annotations

from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import configmap, deployment, hpa
from tests.e2e.harness.records import NamespaceRecords, added_since, summaries


def test_create_and_delete_are_recorded_once_per_object(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    kubectl.apply(
        configmap("settings", {"A": "1", "B": "2"}),
        deployment("api", tag="1.0.0"),
        hpa("api", min_replicas=1, max_replicas=4),
        namespace=namespace,
    )
    kubectl.rollout_status("api", namespace)
    created = records.settled()

    for kind, name in (("hpa", "api"), ("deployment", "api"), ("configmap", "settings")):
        kubectl.delete(kind, name, namespace)
    everything = records.settled()

    assert sorted(summaries(created)) == sorted(
        [
            f"Create ConfigMap {namespace}/settings (2 keys)",
            f"Create Deployment {namespace}/api (api:1.0.0)",
            f"Create HorizontalPodAutoscaler {namespace}/api (1 to 4 replicas)",
        ]
    )
    deleted = added_since(created, everything)
    assert sorted(summaries(deleted)) == sorted(
        [
            f"Delete ConfigMap {namespace}/settings (2 keys)",
            f"Delete Deployment {namespace}/api (api:1.0.0)",
            f"Delete HorizontalPodAutoscaler {namespace}/api (1 to 4 replicas)",
        ]
    )
    assert all("created" in record["tags"] for record in created)
    assert all("deleted" in record["tags"] for record in deleted)
