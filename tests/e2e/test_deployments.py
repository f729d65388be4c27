"""Deployment changes made with kubectl reach the API as exactly the expected records."""

from __future__ import annotations

from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import deployment, image
from tests.e2e.harness.records import NamespaceRecords, added_since, summaries
from tests.e2e.harness.stack import CLUSTER_NAME, ENVIRONMENT


def _created_and_settled(kubectl: Kubectl, records: NamespaceRecords, namespace: str) -> None:
    kubectl.apply(deployment("api", tag="1.0.0"), namespace=namespace)
    kubectl.rollout_status("api", namespace)
    records.settled()


def _set_image(kubectl: Kubectl, namespace: str, tag: str) -> None:
    kubectl.run("-n", namespace, "set", "image", "deployment/api", f"api={image(tag)}")
    kubectl.rollout_status("api", namespace)


def test_image_rollout_is_one_deployment_record(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    _created_and_settled(kubectl, records, namespace)
    before = records.all()

    _set_image(kubectl, namespace, "1.1.0")

    [rollout] = added_since(before, records.settled())
    assert rollout["change_type"] == "deployment"
    assert rollout["summary"] == f"Deploy {namespace}/api: api:1.0.0 → 1.1.0"
    assert rollout["source"] == "kubernetes"
    assert rollout["environment"] == ENVIRONMENT
    assert rollout["changed_by"] == "kubectl"
    assert {f"cluster:{CLUSTER_NAME}", f"namespace:{namespace}"} <= set(rollout["tags"])


def test_rollout_undo_is_recorded_as_a_rollback(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    _created_and_settled(kubectl, records, namespace)
    before = records.all()

    _set_image(kubectl, namespace, "1.1.0")
    _set_image(kubectl, namespace, "1.2.0")
    kubectl.run("-n", namespace, "rollout", "undo", "deployment/api")
    kubectl.rollout_status("api", namespace)

    first, second, undo = added_since(before, records.settled())
    assert summaries([first, second]) == [
        f"Deploy {namespace}/api: api:1.0.0 → 1.1.0",
        f"Deploy {namespace}/api: api:1.1.0 → 1.2.0",
    ]
    assert undo["change_type"] == "rollback"
    # The summary names the revision returned to (2, the 1.1.0 template), not the number 4
    # that Kubernetes gives it once it is current again.
    assert undo["summary"] == f"Roll back {namespace}/api to revision 2 (api:1.1.0)"


def test_rollout_restart_is_a_deployment_tagged_restart(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    _created_and_settled(kubectl, records, namespace)
    before = records.all()

    kubectl.run("-n", namespace, "rollout", "restart", "deployment/api")
    kubectl.rollout_status("api", namespace)

    [restart] = added_since(before, records.settled())
    assert restart["change_type"] == "deployment"
    assert restart["summary"] == f"Restart {namespace}/api"
    assert "restart" in restart["tags"]


def test_kubectl_scale_is_a_scaling_record(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    _created_and_settled(kubectl, records, namespace)
    before = records.all()

    kubectl.run("-n", namespace, "scale", "deployment/api", "--replicas=3")

    [scale] = added_since(before, records.settled())
    assert scale["change_type"] == "scaling"
    assert scale["summary"] == f"Scale {namespace}/api 1 → 3"
    assert scale["changed_by"] == "kubectl"
