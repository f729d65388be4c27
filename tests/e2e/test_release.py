"""The release's life as users live it, on the chart's pods: an upgrade to a new image tag,
pods killed mid-scenario, and an uninstall. None of it loses or duplicates a change."""

from __future__ import annotations

import json
import time

from tests.e2e.harness.changes_api import ChangesApi
from tests.e2e.harness.chart_pods import ChartPods
from tests.e2e.harness.cluster import Cluster
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.node import RealNode
from tests.e2e.harness.records import (
    NamespaceRecords,
    added_since,
    ids,
    summaries,
    wait_until_operator_records,
)
from tests.e2e.harness.scenarios import config_and_scale, rollout, three_changes, workload
from tests.e2e.harness.stack import CHART_DIR, DOCS_IMAGE_PREFIX, helm

COMPONENTS = ("api", "operator")
# What a namespace holds before any release: its own ServiceAccount and CA bundle.
NAMESPACE_DEFAULTS = {"ServiceAccount/default", "ConfigMap/kube-root-ca.crt"}
NAMESPACED_KINDS = (
    "deployments,replicasets,pods,services,secrets,configmaps,serviceaccounts,roles,"
    "rolebindings,poddisruptionbudgets,horizontalpodautoscalers,jobs,ingresses,"
    "persistentvolumeclaims"
)


def _image(chart_pods: ChartPods, component: str) -> str:
    (container,) = [
        c for c in chart_pods.running_pod(component)["spec"]["containers"] if c["name"] == component
    ]
    return str(container["image"])


def test_helm_upgrade_to_a_new_image_tag_rolls_the_pods_and_loses_no_change(
    chart_pods: ChartPods,
    real_node: RealNode,
    cluster: Cluster,
    kubectl: Kubectl,
    records: NamespaceRecords,
    namespace: str,
) -> None:
    workload(kubectl, records, namespace)
    before = records.all()
    everything_before = chart_pods.changes.list_changes()
    old_pods = {c: chart_pods.running_pod(c)["metadata"]["uid"] for c in COMPONENTS}
    tag = _image(chart_pods, "api").rsplit(":", 1)[1]
    new_tag = f"{tag}-rebuilt.{int(time.time())}"
    for component in COMPONENTS:
        repository = f"{DOCS_IMAGE_PREFIX}changetrail-{component}"
        real_node.tag_image(f"{repository}:{tag}", f"{repository}:{new_tag}")

    # docs/install.md's upgrade; the changes land while the pods are replaced (both
    # Deployments recreate theirs, so the operator is down for a while).
    helm(
        cluster.admin_kubeconfig, "upgrade", chart_pods.release, str(CHART_DIR),
        f"--namespace={chart_pods.namespace}", "--reuse-values",
        f"--set=api.image.tag={new_tag}", f"--set=operator.image.tag={new_tag}",
    )  # fmt: skip
    expected = three_changes(kubectl, namespace, "1.1.0", "debug")
    chart_pods.start()

    for component in COMPONENTS:
        assert chart_pods.running_pod(component)["metadata"]["uid"] != old_pods[component]
        assert _image(chart_pods, component).endswith(f":{new_tag}")
    records.wait_for_count(len(before) + 1 + len(expected), timeout=180)
    added = added_since(before, records.settled(timeout=180))
    assert sorted(summaries(added)) == sorted(
        [f"Deploy {namespace}/api: api:1.0.0 → 1.1.0", *expected]
    )
    assert ids(everything_before) <= ids(chart_pods.changes.list_changes())


def test_killing_the_operator_pod_and_the_api_pod_mid_scenario_loses_and_duplicates_nothing(
    chart_pods: ChartPods, kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    workload(kubectl, records, namespace)
    before = records.all()

    chart_pods.kill_operator()
    rollout(kubectl, namespace, "1.1.0")
    chart_pods.kill_api()
    expected = config_and_scale(kubectl, namespace, "warning")
    chart_pods.start_operator()
    chart_pods.start_killed_api()

    records.wait_for_count(len(before) + 1 + len(expected), timeout=180)
    added = added_since(before, records.settled(timeout=180))
    assert sorted(summaries(added)) == sorted(
        [f"Deploy {namespace}/api: api:1.0.0 → 1.1.0", *expected]
    )


def _release_leftovers(kubectl: Kubectl, namespace: str) -> set[str]:
    listed = json.loads(kubectl.run("-n", namespace, "get", NAMESPACED_KINDS, "-o", "json"))
    found = {f"{item['kind']}/{item['metadata']['name']}" for item in listed["items"]}
    return found - NAMESPACE_DEFAULTS


def test_helm_uninstall_keeps_the_claim_and_removes_everything_else(
    chart_pods: ChartPods,
    cluster: Cluster,
    kubectl: Kubectl,
    chart_args: list[str],
    changes: ChangesApi,
) -> None:
    recorded = changes.list_changes()
    assert recorded
    claim = f"PersistentVolumeClaim/{chart_pods.release}-data"

    helm(
        cluster.admin_kubeconfig, "uninstall", chart_pods.release,
        f"--namespace={chart_pods.namespace}", "--wait",
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while (left := _release_leftovers(kubectl, chart_pods.namespace)) != {claim}:
        assert time.monotonic() < deadline, f"left after uninstall: {sorted(left)}"
        time.sleep(1)
    pvc = kubectl.get("persistentvolumeclaim", f"{chart_pods.release}-data", chart_pods.namespace)
    assert pvc["status"]["phase"] == "Bound"
    cluster_wide = kubectl.run(
        "get", "clusterroles,clusterrolebindings", "-o", "name",
        f"-l=app.kubernetes.io/instance={chart_pods.release}",
    )  # fmt: skip
    assert cluster_wide.strip() == ""

    # Installed again, the release finds its claim, and every change recorded on it.
    helm(cluster.admin_kubeconfig, "upgrade", "--install", *chart_args)
    chart_pods.start()
    assert ids(recorded) <= ids(changes.list_changes())
    wait_until_operator_records(changes, kubectl)
