"""What changes all the time but is no change: none of it reaches the API."""

from __future__ import annotations

import json
import time

from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import configmap, deployment, hpa, hpa_status
from tests.e2e.harness.records import NamespaceRecords, summaries

LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"


def _leader_record(holder: str, renewed: int) -> str:
    return json.dumps({"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": renewed})


def test_status_churn_leader_election_and_root_ca_record_nothing(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    kubectl.apply(deployment("api", replicas=2), hpa("api"), namespace=namespace)
    kubectl.rollout_status("api", namespace)
    baseline = records.settled()
    assert not [summary for summary in summaries(baseline) if "kube-root-ca.crt" in summary]

    # Status only: the autoscaler re-measures without changing its decision.
    for cpu in (40, 45, 52):
        kubectl.merge_patch("hpa", "api", hpa_status(2, 2, cpu), namespace, subresource="status")
    # A leader-election lock renewed every second, the way older controllers keep one.
    for renewal in range(5):
        lock = configmap(
            "controller-lock",
            {},
            annotations={LEADER_ANNOTATION: _leader_record("pod-a", renewal)},
        )
        kubectl.apply(lock, namespace=namespace)
        time.sleep(1)  # the renewal period being imitated, not a wait for an outcome
    # kube-root-ca.crt is rewritten by the controller manager; edits to it are not changes.
    kubectl.merge_patch(
        "configmap", "kube-root-ca.crt", {"metadata": {"labels": {"touched": "yes"}}}, namespace
    )
    # Metadata-only churn on a watched object.
    kubectl.merge_patch(
        "deployment", "api", {"metadata": {"labels": {"team": "payments"}}}, namespace
    )

    assert summaries(records.settled()) == summaries(baseline)
