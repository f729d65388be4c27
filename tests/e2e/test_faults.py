"""Crashes and outages lose nothing and duplicate nothing.

Each scenario breaks one piece (the operator, the API, the Kubernetes API server)
around real changes, then checks the namespace's records are exactly the changes
made, each once.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.harness.cluster import Cluster
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import configmap, image
from tests.e2e.harness.records import NamespaceRecords, added_since, summaries
from tests.e2e.harness.scenarios import three_changes, workload
from tests.e2e.harness.stack import RunningStack

# Long enough for the operator to fail, back off and retry several times.
API_OUTAGE_SECONDS = 30.0


def test_changes_while_the_operator_is_down_are_recorded_once_after_restart(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str, stack: RunningStack
) -> None:
    workload(kubectl, records, namespace)
    before = records.all()
    kubectl.run("-n", namespace, "set", "image", "deployment/api", f"api={image('1.1.0')}")
    records.wait_for_count(len(before) + 1)

    stack.kill_operator()
    try:
        expected = three_changes(kubectl, namespace, "1.2.0", "debug")
    finally:
        stack.start_operator()

    # The sentinel is a ConfigMap, and kopf lists each kind on its own stream: its record can
    # come before the Deployment's catch-up. Wait for the count first, then for quiet.
    records.wait_for_count(len(before) + 2 + len(expected), timeout=120)
    added = added_since(before, records.settled(timeout=120))
    assert sorted(summaries(added)) == sorted(
        [
            f"Deploy {namespace}/api: api:1.0.0 → 1.1.0",
            f"Deploy {namespace}/api: api:1.1.0 → 1.2.0",
            *expected,
        ]
    )


def test_changes_during_an_api_outage_arrive_once_when_it_returns(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str, stack: RunningStack
) -> None:
    workload(kubectl, records, namespace)
    before = records.all()

    stopped = time.monotonic()
    stack.stop_api()
    try:
        expected = three_changes(kubectl, namespace, "1.1.0", "warning")
        # The outage is the scenario: the operator must retry for this long without losing
        # or duplicating anything.
        time.sleep(max(0.0, API_OUTAGE_SECONDS - (time.monotonic() - stopped)))
    finally:
        stack.start_api()

    records.wait_for_count(len(before) + 1 + len(expected), timeout=180)
    added = added_since(before, records.settled(timeout=180))
    assert sorted(summaries(added)) == sorted(
        [f"Deploy {namespace}/api: api:1.0.0 → 1.1.0", *expected]
    )


def test_watches_recover_after_the_kubernetes_api_server_restarts(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str, cluster: Cluster
) -> None:
    if cluster.control_plane is None:
        pytest.skip("restarting the API server needs the suite's own control plane")
    workload(kubectl, records, namespace)
    before = records.all()

    cluster.control_plane.restart_apiserver()
    expected = three_changes(kubectl, namespace, "1.1.0", "error")

    records.wait_for_count(len(before) + 1 + len(expected), timeout=180)
    added = added_since(before, records.settled(timeout=180))
    # The re-list after the restart records nothing that had not changed.
    assert sorted(summaries(added)) == sorted(
        [f"Deploy {namespace}/api: api:1.0.0 → 1.1.0", *expected]
    )


def test_a_watch_that_expired_with_410_relists_without_new_records(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str, cluster: Cluster
) -> None:
    if cluster.control_plane is None:
        pytest.skip("compacting etcd needs the suite's own control plane")
    workload(kubectl, records, namespace)
    before = records.all()
    stale = kubectl.get("configmap", "api-config", namespace)["metadata"]["resourceVersion"]
    kubectl.apply(configmap("api-config", {"LOG_LEVEL": "debug"}), namespace=namespace)
    records.wait_for_count(len(before) + 1)

    # Compact the history the operator's watches started from, then cut the watches: they
    # resume from versions that are gone, get 410, and kopf re-lists everything.
    cluster.control_plane.compact_etcd()
    cluster.control_plane.restart_apiserver()
    expired = kubectl.run(
        "get",
        "--raw",
        f"/api/v1/namespaces/{namespace}/configmaps?watch=true&resourceVersion={stale}"
        "&timeoutSeconds=2",
        check=False,
    )
    assert '"code":410' in expired.replace(" ", ""), expired

    kubectl.run("-n", namespace, "set", "image", "deployment/api", f"api={image('1.1.0')}")
    records.wait_for_count(len(before) + 2, timeout=180)
    added = added_since(before, records.settled(timeout=180))
    # The re-list after the 410 recorded nothing that had not changed.
    assert sorted(summaries(added)) == sorted(
        [
            f"Config {namespace}/api-config: 1 key changed (LOG_LEVEL)",
            f"Deploy {namespace}/api: api:1.0.0 → 1.1.0",
        ]
    )
