"""Autoscaler decisions are coalesced into one scaling record; HPA spec edits are config.

The control plane runs without the HPA controller, so the test plays the autoscaler:
it writes the HPA's status and the Deployment's scale subresource under the
controller-manager's field manager, as the real controller does.
"""

from __future__ import annotations

from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import deployment, hpa, hpa_status
from tests.e2e.harness.records import NamespaceRecords, added_since

AUTOSCALER_MANAGER = "kube-controller-manager"


def _autoscale(kubectl: Kubectl, namespace: str, current: int, desired: int, cpu: int) -> None:
    """One reconcile of the HPA controller: resize the target if needed, then report."""
    if desired != current:
        kubectl.run(
            "-n", namespace, "patch", "deployment", "api", "--subresource=scale",
            "--type=merge", f"--patch={{\"spec\": {{\"replicas\": {desired}}}}}",
            f"--field-manager={AUTOSCALER_MANAGER}",
        )  # fmt: skip
    kubectl.merge_patch(
        "hpa", "api", hpa_status(current, desired, cpu), namespace, subresource="status"
    )


def _autoscaled_deployment(kubectl: Kubectl, records: NamespaceRecords, namespace: str) -> None:
    kubectl.apply(deployment("api", replicas=2), hpa("api"), namespace=namespace)
    # The controller's first reconcile reports the current size: not a scaling decision.
    _autoscale(kubectl, namespace, current=2, desired=2, cpu=50)
    records.settled()


def test_autoscaler_flapping_is_coalesced_into_one_scaling_record(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    _autoscaled_deployment(kubectl, records, namespace)
    before = records.all()

    # Up, down, up again within the settle window: one decision, 2 → 6.
    _autoscale(kubectl, namespace, current=2, desired=5, cpu=88)
    _autoscale(kubectl, namespace, current=5, desired=4, cpu=60)
    _autoscale(kubectl, namespace, current=4, desired=6, cpu=91)

    [scaling] = added_since(before, records.wait_for_count(len(before) + 1, timeout=30))
    assert scaling["change_type"] == "scaling"
    assert scaling["summary"] == f"Autoscale {namespace}/api 2 → 6 (cpu 91%/70%)"
    # The replica changes the autoscaler made are not recorded a second time as "Scale".
    assert added_since(before, records.settled()) == [scaling]


def test_hpa_spec_edit_is_a_config_change(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    _autoscaled_deployment(kubectl, records, namespace)
    before = records.all()

    kubectl.merge_patch("hpa", "api", {"spec": {"maxReplicas": 20}}, namespace)

    [edit] = added_since(before, records.settled())
    assert edit["change_type"] == "config_change"
    assert edit["summary"] == f"HPA {namespace}/api: maxReplicas 10 → 20"
