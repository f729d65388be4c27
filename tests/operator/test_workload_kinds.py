"""StatefulSets, DaemonSets and CronJobs get what Deployments get, worded for what they are."""

from __future__ import annotations

from changetrail_operator.drafts import ChangeType, Outcome
from changetrail_operator.inventory import StaticInventory
from changetrail_operator.observer import Observer
from tests.operator.conftest import drafts, summaries
from tests.operator.factories import (
    JsonDict,
    configmap,
    cronjob,
    daemonset,
    deployment,
    evolve,
    hpa,
    managed,
    statefulset,
)


def _image(body: JsonDict, image: str) -> JsonDict:
    new = evolve(body)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return new


def _controller_revision(body: JsonDict, revision: str) -> JsonDict:
    """The controller's status write after a template change: the new ControllerRevision."""
    new = evolve(body, spec_change=False)
    new["status"]["updateRevision"] = revision
    return new


def test_statefulset_rollout_names_the_image_and_is_followed(
    observer: Observer, inventory: StaticInventory
) -> None:
    before = statefulset(image="registry.example.com/postgres:16.3")
    observer.observe("StatefulSet", None, before, inventory)
    after = _image(before, "registry.example.com/postgres:16.4")
    after["metadata"]["managedFields"] = [
        managed("kubectl-patch", "2026-02-01T10:00:00Z", ("spec", "template"))
    ]
    observer.observe("StatefulSet", "MODIFIED", after, inventory)

    [change] = drafts(observer)
    assert change.summary == "Deploy data/postgres: postgres:16.3 → 16.4"
    assert change.change_type is ChangeType.DEPLOYMENT
    assert change.outcome is Outcome.IN_PROGRESS
    assert change.changed_by == "kubectl"
    assert "kind:statefulset" in change.tags
    assert change.details is not None
    assert change.details["update_strategy"] == {"type": "RollingUpdate", "partition": None}
    uid = before["metadata"]["uid"]
    assert change.external_id == f"k8s:prod-eu:StatefulSet:{uid}:rollout:g2"


def test_a_statefulset_partition_and_on_delete_are_said_out_loud(
    observer: Observer, inventory: StaticInventory
) -> None:
    staged = statefulset("staged", partition=2)
    manual = statefulset("manual", on_delete=True, update_revision="manual-1")
    for body in (staged, manual):
        observer.observe("StatefulSet", None, body, inventory)
    observer.observe("StatefulSet", "MODIFIED", _image(staged, "postgres:16.4"), inventory)
    observer.observe("StatefulSet", "MODIFIED", _image(manual, "postgres:16.4"), inventory)

    assert summaries(observer) == [
        "Deploy data/staged: registry.example.com/postgres:16.3 → postgres:16.4"
        " (partition 2: only pods with ordinal ≥ 2)",
        "Deploy data/manual: registry.example.com/postgres:16.3 → postgres:16.4"
        " (pods change only when deleted)",
    ]


def test_lowering_a_partition_is_the_next_rollout_step(
    observer: Observer, inventory: StaticInventory
) -> None:
    body = statefulset(partition=2)
    observer.observe("StatefulSet", None, body, inventory)
    lowered = evolve(body)
    lowered["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 0
    observer.observe("StatefulSet", "MODIFIED", lowered, inventory)
    raised = evolve(lowered)
    raised["spec"]["updateStrategy"] = {"type": "OnDelete"}
    observer.observe("StatefulSet", "MODIFIED", raised, inventory)

    released, switched = drafts(observer)
    assert released.summary == "Update strategy data/postgres: partition 2 → 0"
    assert (released.change_type, released.outcome) == (ChangeType.DEPLOYMENT, Outcome.IN_PROGRESS)
    assert switched.summary == "Update strategy data/postgres: RollingUpdate → OnDelete"
    assert (switched.change_type, switched.outcome) == (ChangeType.CONFIG_CHANGE, None)


def test_statefulset_undo_is_a_rollback_to_its_controller_revision(
    observer: Observer, inventory: StaticInventory
) -> None:
    v1 = statefulset(image="postgres:16.3", update_revision="postgres-aaa")
    observer.observe("StatefulSet", None, v1, inventory)
    v2 = _image(v1, "postgres:16.4")
    observer.observe("StatefulSet", "MODIFIED", v2, inventory)
    v2 = _controller_revision(v2, "postgres-bbb")
    observer.observe("StatefulSet", "MODIFIED", v2, inventory)
    undo = _image(v2, "postgres:16.3")
    observer.observe("StatefulSet", "MODIFIED", undo, inventory)
    restarted = evolve(undo)
    restarted["spec"]["template"]["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/restartedAt": "2026-02-01T12:00:00Z"
    }
    observer.observe("StatefulSet", "MODIFIED", restarted, inventory)
    scaled = evolve(restarted, spec__replicas=5)
    observer.observe("StatefulSet", "MODIFIED", scaled, inventory)

    assert summaries(observer) == [
        "Deploy data/postgres: postgres:16.3 → 16.4",
        "Roll back data/postgres to revision postgres-aaa (postgres:16.3)",
        "Restart data/postgres",
        "Scale data/postgres 3 → 5",
    ]
    assert [d.change_type for d in drafts(observer)] == [
        ChangeType.DEPLOYMENT,
        ChangeType.ROLLBACK,
        ChangeType.DEPLOYMENT,
        ChangeType.SCALING,
    ]


def test_replicas_an_hpa_sets_on_a_statefulset_are_not_scaling(
    observer: Observer, inventory: StaticInventory
) -> None:
    autoscaler = hpa("postgres", "data", target="postgres")
    autoscaler["spec"]["scaleTargetRef"]["kind"] = "StatefulSet"
    observer.observe("HorizontalPodAutoscaler", None, autoscaler, inventory)
    body = statefulset()
    observer.observe("StatefulSet", None, body, inventory)
    observer.observe("StatefulSet", "MODIFIED", evolve(body, spec__replicas=6), inventory)
    # A Deployment of the same name in that namespace is not the HPA's target.
    namesake = deployment("postgres", "data", replicas=1)
    observer.observe("Deployment", None, namesake, inventory)
    observer.observe("Deployment", "MODIFIED", evolve(namesake, spec__replicas=2), inventory)

    assert summaries(observer) == ["Scale data/postgres 1 → 2"]


def test_daemonset_rollouts_and_rollbacks_without_revision_numbers_or_replicas(
    observer: Observer, inventory: StaticInventory
) -> None:
    v1 = daemonset(image="agent:2.1")
    observer.observe("DaemonSet", None, v1, inventory)
    v2 = _image(v1, "agent:2.2")
    observer.observe("DaemonSet", "MODIFIED", v2, inventory)
    observer.observe("DaemonSet", "MODIFIED", _image(v2, "agent:2.1"), inventory)

    assert summaries(observer) == [
        "Deploy monitoring/node-agent: agent:2.1 → 2.2",
        "Roll back monitoring/node-agent to an earlier revision (agent:2.1)",
    ]
    assert observer.records[("DaemonSet", v1["metadata"]["uid"])].state["replicas"] is None


def test_a_statefulset_and_a_deployment_of_one_name_keep_their_own_configmaps(
    observer: Observer, inventory: StaticInventory
) -> None:
    web = deployment("web", "shop", configmaps=("web-config",))
    cache = statefulset("web", "shop")
    cache["spec"]["template"]["spec"]["volumes"] = [
        {"name": "c", "configMap": {"name": "cache-config"}}
    ]
    observer.observe("Deployment", None, web, inventory)
    observer.observe("StatefulSet", None, cache, inventory)
    observer.observe("StatefulSet", "DELETED", cache, inventory)  # the Deployment stays
    for name in ("web-config", "cache-config"):
        body = configmap(name, "shop", data={"A": "1"})
        observer.observe("ConfigMap", None, body, inventory)
        observer.observe("ConfigMap", "MODIFIED", evolve(body, data={"A": "2"}), inventory)

    web_config, cache_config = drafts(observer)[1:]
    assert web_config.details is not None
    assert cache_config.details is not None
    assert web_config.details["consumers"] == ["Deployment/web"]
    assert cache_config.details["consumers"] == []


def test_cronjob_job_template_is_a_deployment_and_schedule_or_suspend_is_config(
    observer: Observer, inventory: StaticInventory
) -> None:
    body = cronjob(image="registry.example.com/backup:1.2")
    observer.observe("CronJob", None, body, inventory)
    # A run: the controller records it in the status; never a change.
    ran = evolve(body, spec_change=False, status={"lastScheduleTime": "2026-02-01T02:00:00Z"})
    observer.observe("CronJob", "MODIFIED", ran, inventory)
    upgraded = evolve(ran)
    upgraded["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "registry.example.com/backup:1.3"
    )
    observer.observe("CronJob", "MODIFIED", upgraded, inventory)
    moved = evolve(upgraded, spec__schedule="0 3 * * *")
    observer.observe("CronJob", "MODIFIED", moved, inventory)
    observer.observe("CronJob", "MODIFIED", evolve(moved, spec__suspend=True), inventory)

    assert summaries(observer) == [
        "Deploy ops/backup: backup:1.2 → 1.3",
        "CronJob ops/backup: schedule 0 2 * * * → 0 3 * * *",
        "CronJob ops/backup: suspended",
    ]
    assert [d.change_type for d in drafts(observer)] == [
        ChangeType.DEPLOYMENT,
        ChangeType.CONFIG_CHANGE,
        ChangeType.CONFIG_CHANGE,
    ]
    assert all(d.outcome is None for d in drafts(observer)), "a CronJob has no rollout"


def test_cronjob_creation_names_its_schedule_and_job_settings_count(
    observer: Observer, inventory: StaticInventory
) -> None:
    body = cronjob(created="2026-07-01T00:00:00Z")
    observer.observe("CronJob", "ADDED", body, inventory)
    retried = evolve(body)
    retried["spec"]["jobTemplate"]["spec"]["backoffLimit"] = 6
    observer.observe("CronJob", "MODIFIED", retried, inventory)

    assert summaries(observer) == [
        "Create CronJob ops/backup (0 2 * * *, backup:1.2)",
        "Deploy ops/backup: jobTemplate.spec",
    ]
