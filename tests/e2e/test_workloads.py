"""StatefulSets and DaemonSets get what Deployments get, and every rollout ends with its outcome.

The controller manager rolls them out for real (on the fake node, where pods turn ready in
seconds); the operator follows each rollout it records until the controller reports the end.
"""

from __future__ import annotations

from tests.e2e.harness.changes_api import Record
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import daemonset, hpa, hpa_status, image, statefulset
from tests.e2e.harness.records import NamespaceRecords, added_since, is_sentinel, summaries

AUTOSCALER_MANAGER = "kube-controller-manager"


def _rollout_status(kubectl: Kubectl, namespace: str, workload: str) -> None:
    kubectl.rollout_status(workload, namespace, timeout=240)


def _set_image(kubectl: Kubectl, namespace: str, workload: str, tag: str) -> None:
    container = workload.split("/", 1)[1]
    kubectl.run("-n", namespace, "set", "image", workload, f"{container}={image(tag)}")
    _rollout_status(kubectl, namespace, workload)


def _ended(records: NamespaceRecords, count: int) -> list[Record]:
    """The namespace's ``count`` (or more) records once every rollout among them has ended."""

    def done(found: list[Record]) -> bool:
        own = [record for record in found if not is_sentinel(record)]
        return len(own) >= count and not any(r["outcome"] == "in_progress" for r in own)

    found = records.changes.wait_for(done, timeout=90, tag=records.tag)
    return [record for record in found if not is_sentinel(record)]


def test_statefulset_rollouts_undo_restart_scaling_and_autoscaling(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    kubectl.apply(statefulset("db", tag="1.0.0", replicas=2), namespace=namespace)
    _rollout_status(kubectl, namespace, "statefulset/db")
    [created] = records.settled()
    assert created["summary"] == f"Create StatefulSet {namespace}/db (api:1.0.0)"

    _set_image(kubectl, namespace, "statefulset/db", "1.1.0")
    first = kubectl.get("statefulset", "db", namespace)["status"]["updateRevision"]
    _set_image(kubectl, namespace, "statefulset/db", "1.2.0")
    kubectl.run("-n", namespace, "rollout", "undo", "statefulset/db")
    _rollout_status(kubectl, namespace, "statefulset/db")
    kubectl.run("-n", namespace, "rollout", "restart", "statefulset/db")
    _rollout_status(kubectl, namespace, "statefulset/db")
    kubectl.run("-n", namespace, "scale", "statefulset/db", "--replicas=3")
    # An HPA takes over: what it decides is autoscaling, and the replicas it sets are not
    # recorded again as manual scaling.
    autoscaler = hpa("db")
    autoscaler["spec"]["scaleTargetRef"].update(kind="StatefulSet")
    kubectl.apply(autoscaler, namespace=namespace)
    kubectl.merge_patch("hpa", "db", hpa_status(3, 3, 50), namespace, subresource="status")
    kubectl.run(
        "-n", namespace, "patch", "statefulset", "db", "--subresource=scale", "--type=merge",
        '--patch={"spec": {"replicas": 4}}', f"--field-manager={AUTOSCALER_MANAGER}",
    )  # fmt: skip
    kubectl.merge_patch("hpa", "db", hpa_status(3, 4, 91), namespace, subresource="status")
    records.wait_for_count(8, timeout=60)

    everything = _ended(records, 8)
    added = added_since([created], everything)
    assert summaries(added) == [
        f"Deploy {namespace}/db: api:1.0.0 → 1.1.0",
        f"Deploy {namespace}/db: api:1.1.0 → 1.2.0",
        # The ControllerRevision of the 1.1.0 template, which the undo returned to.
        f"Roll back {namespace}/db to revision {first} (api:1.1.0)",
        f"Restart {namespace}/db",
        f"Scale {namespace}/db 2 → 3",
        f"Create HorizontalPodAutoscaler {namespace}/db (1 to 10 replicas)",
        f"Autoscale {namespace}/db 3 → 4 (cpu 91%/70%)",
    ]
    assert [r["change_type"] for r in added] == [
        "deployment", "deployment", "rollback", "deployment", "scaling", "config_change",
        "scaling",
    ]  # fmt: skip
    # Every rollout (the creation too) ended as kubectl's rollout status says: succeeded.
    rollouts = [created, *added[:4]]
    assert [r["outcome"] for r in rollouts] == ["succeeded"] * 5
    assert all(r["ended_at"] >= r["occurred_at"] for r in rollouts)
    assert {r["outcome"] for r in added[4:]} == {None}


def test_statefulset_partition_and_on_delete_say_which_pods_change_and_when_it_ends(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    staged = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
    kubectl.apply(
        statefulset("staged", replicas=1, update_strategy=staged),
        statefulset("manual", replicas=1, update_strategy={"type": "OnDelete"}),
        namespace=namespace,
    )
    for name in ("staged", "manual"):
        kubectl.run(
            "-n", namespace, "wait", f"statefulset/{name}", "--timeout=120s",
            "--for=jsonpath={.status.readyReplicas}=1",
        )  # fmt: skip
    created = _ended(records, 2)

    # Partition 1 holds pod staged-0 on the old template: the rollout is over at once, and
    # lowering the partition releases the new template to staged-0.
    _set_image(kubectl, namespace, "statefulset/staged", "1.1.0")
    kubectl.merge_patch(
        "statefulset",
        "staged",
        {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}},
        namespace,
    )
    _rollout_status(kubectl, namespace, "statefulset/staged")
    kubectl.run("-n", namespace, "set", "image", "statefulset/manual", f"manual={image('1.1.0')}")
    [pending] = added_since(created, records.wait_for_count(5))[2:]
    assert pending["outcome"] == "in_progress", "OnDelete: nothing changes until a pod goes"
    # Someone deletes the pod (at once: the fake node's kubelet is no real one), and the
    # controller recreates it from the new template.
    kubectl.run("-n", namespace, "delete", "pod", "manual-0", "--force", "--grace-period=0")

    added = added_since(created, _ended(records, 5))
    assert summaries(added) == [
        f"Deploy {namespace}/staged: api:1.0.0 → 1.1.0 (partition 1: only pods with ordinal ≥ 1)",
        f"Update strategy {namespace}/staged: partition 1 → 0",
        f"Deploy {namespace}/manual: api:1.0.0 → 1.1.0 (pods change only when deleted)",
    ]
    assert [r["change_type"] for r in added] == ["deployment"] * 3
    assert [r["outcome"] for r in added] == ["succeeded"] * 3
    assert added[0]["details"]["update_strategy"] == {"type": "RollingUpdate", "partition": 1}


def test_daemonset_rollout_and_undo_end_as_the_controller_reports(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    kubectl.apply(daemonset("agent", tag="1.0.0"), namespace=namespace)
    _rollout_status(kubectl, namespace, "daemonset/agent")
    created = _ended(records, 1)

    _set_image(kubectl, namespace, "daemonset/agent", "1.1.0")
    _set_image(kubectl, namespace, "daemonset/agent", "1.2.0")
    kubectl.run("-n", namespace, "rollout", "undo", "daemonset/agent")
    _rollout_status(kubectl, namespace, "daemonset/agent")

    added = added_since(created, _ended(records, 4))
    assert summaries(created) == [f"Create DaemonSet {namespace}/agent (api:1.0.0)"]
    assert summaries(added) == [
        f"Deploy {namespace}/agent: api:1.0.0 → 1.1.0",
        f"Deploy {namespace}/agent: api:1.1.0 → 1.2.0",
        f"Roll back {namespace}/agent to an earlier revision (api:1.1.0)",
    ]
    assert [r["outcome"] for r in [*created, *added]] == ["succeeded"] * 4
