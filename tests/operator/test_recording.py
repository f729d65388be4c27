"""Every row of the operator's recording table, observed without a cluster or an API."""

from __future__ import annotations

from changetrail_operator.drafts import ChangeType, RiskLevel
from changetrail_operator.inventory import NamespaceInfo, StaticInventory
from changetrail_operator.observer import Observer
from changetrail_operator.policies import parse_policy
from tests.operator.conftest import FakeClock, ObserverFactory, drafts, summaries
from tests.operator.factories import (
    configmap,
    deployment,
    evolve,
    hpa,
    managed,
    with_image,
)


def test_image_change_is_recorded_as_a_deployment(
    observer: Observer, inventory: StaticInventory
) -> None:
    before = deployment(image="registry.example.com/api:1.4.2")
    observer.observe("Deployment", None, before, inventory)
    after = with_image(before, "registry.example.com/api:1.5.0")
    after["metadata"]["managedFields"] = [
        managed("helm", "2026-02-01T10:00:00Z", ("metadata", "labels")),
        managed("kubectl-client-side-apply", "2026-02-01T11:00:00Z", ("spec", "template")),
    ]
    observer.observe("Deployment", "MODIFIED", after, inventory)

    [change] = drafts(observer)
    assert change.change_type is ChangeType.DEPLOYMENT
    assert change.summary == "Deploy payments/api: api:1.4.2 → 1.5.0"
    assert change.changed_by == "kubectl"
    assert change.source == "kubernetes"
    assert change.service_name == "api"
    assert change.environment == "production"
    assert set(change.tags) >= {"cluster:prod-eu", "namespace:payments", "kind:deployment"}
    uid = before["metadata"]["uid"]
    assert change.external_id == f"k8s:prod-eu:Deployment:{uid}:rollout:g2"
    assert change.details is not None
    assert change.details["diff"] == [
        {
            "field": "containers.api.image",
            "change": "changed",
            "old": "registry.example.com/api:1.4.2",
            "new": "registry.example.com/api:1.5.0",
        }
    ]
    assert change.occurred_at is not None
    assert change.occurred_at.hour == 11


def test_env_and_resources_changes_name_the_fields_but_not_env_values(
    observer: Observer, inventory: StaticInventory
) -> None:
    before = deployment(env={"LOG_LEVEL": "info", "DB_PASSWORD": "hunter2"})
    observer.observe("Deployment", None, before, inventory)
    after = evolve(before)
    container = after["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [
        {"name": "LOG_LEVEL", "value": "debug"},
        {"name": "DB_PASSWORD", "value": "s3cret"},
    ]
    container["resources"] = {"requests": {"cpu": "1"}}
    observer.observe("Deployment", "MODIFIED", after, inventory)

    [change] = drafts(observer)
    assert change.summary == (
        "Deploy payments/api: env DB_PASSWORD, env LOG_LEVEL, resources (api)"
    )
    assert "s3cret" not in str(change.details)
    assert "hunter2" not in str(change.details)
    resources = [e for e in change.details["diff"] if e["field"].endswith("resources")]  # type: ignore[index]
    assert resources[0]["old"] == {"requests": {"cpu": "500m"}}
    assert resources[0]["new"] == {"requests": {"cpu": "1"}}


def test_return_to_an_earlier_template_is_a_rollback(
    observer: Observer, inventory: StaticInventory
) -> None:
    v1 = deployment(image="registry.example.com/api:1.4.2", revision="7")
    observer.observe("Deployment", None, v1, inventory)
    v2 = with_image(v1, "registry.example.com/api:1.5.0")
    observer.observe("Deployment", "MODIFIED", v2, inventory)
    v2_revised = evolve(v2, spec_change=False)
    v2_revised["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "8"
    observer.observe("Deployment", "MODIFIED", v2_revised, inventory)
    undo = with_image(v2_revised, "registry.example.com/api:1.4.2")
    observer.observe("Deployment", "MODIFIED", undo, inventory)

    rollback = drafts(observer)[-1]
    assert rollback.change_type is ChangeType.ROLLBACK
    assert rollback.summary == "Roll back payments/api to revision 7 (api:1.4.2)"
    assert rollback.details is not None
    assert rollback.details["to_revision"] == "7"
    assert summaries(observer)[0] == "Deploy payments/api: api:1.4.2 → 1.5.0"


def test_restarted_at_alone_is_a_restart(observer: Observer, inventory: StaticInventory) -> None:
    before = deployment()
    observer.observe("Deployment", None, before, inventory)
    after = evolve(before)
    after["spec"]["template"]["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/restartedAt": "2026-02-01T12:00:00Z"
    }
    observer.observe("Deployment", "MODIFIED", after, inventory)

    [change] = drafts(observer)
    assert change.summary == "Restart payments/api"
    assert change.change_type is ChangeType.DEPLOYMENT
    assert "restart" in change.tags


def test_manual_replica_change_is_scaling(observer: Observer, inventory: StaticInventory) -> None:
    before = deployment(replicas=3)
    observer.observe("Deployment", None, before, inventory)
    after = evolve(before, spec__replicas=5)
    after["metadata"]["managedFields"] = [
        managed("kubectl", "2026-02-01T10:00:00Z", ("spec", "replicas"), subresource="scale")
    ]
    observer.observe("Deployment", "MODIFIED", after, inventory)

    [change] = drafts(observer)
    assert change.change_type is ChangeType.SCALING
    assert change.summary == "Scale payments/api 3 → 5"
    assert change.changed_by == "kubectl"


def test_replicas_written_by_the_controller_manager_are_not_scaling(
    observer: Observer, inventory: StaticInventory
) -> None:
    # At start, a Deployment's event may come before its HPA's: the writer gives it away.
    before = deployment(replicas=3)
    observer.observe("Deployment", None, before, inventory)
    after = evolve(before, spec__replicas=6)
    after["metadata"]["managedFields"] = [
        managed(
            "kube-controller-manager",
            "2026-02-01T10:00:00Z",
            ("spec", "replicas"),
            subresource="scale",
        )
    ]
    observer.observe("Deployment", "MODIFIED", after, inventory)
    assert drafts(observer) == []


def test_replicas_set_by_an_hpa_are_not_scaling(
    observer: Observer, inventory: StaticInventory
) -> None:
    observer.observe("HorizontalPodAutoscaler", None, hpa(target="api"), inventory)
    before = deployment(replicas=3)
    observer.observe("Deployment", None, before, inventory)
    observer.observe("Deployment", "MODIFIED", evolve(before, spec__replicas=6), inventory)

    assert drafts(observer) == []
    # The new count is remembered all the same, so a restart does not re-diff it.
    assert observer.records[("Deployment", before["metadata"]["uid"])].state["replicas"] == 6


def test_hpa_decision_is_autoscaling_with_the_driving_metric(
    observer: Observer, inventory: StaticInventory
) -> None:
    before = hpa(desired=3, cpu_current=50)
    observer.observe("HorizontalPodAutoscaler", None, before, inventory)
    after = evolve(before, spec_change=False)
    after["status"].update(
        desiredReplicas=6,
        lastScaleTime="2026-02-01T10:00:00Z",
        currentMetrics=[
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 91}}}
        ],
    )
    observer.observe("HorizontalPodAutoscaler", "MODIFIED", after, inventory)

    [change] = drafts(observer)
    assert change.change_type is ChangeType.SCALING
    assert change.summary == "Autoscale payments/api 3 → 6 (cpu 91%/70%)"
    assert change.changed_by == "horizontal-pod-autoscaler"
    assert "autoscaling" in change.tags


def test_hpa_spec_edit_is_a_config_change(observer: Observer, inventory: StaticInventory) -> None:
    before = hpa(max_replicas=10)
    observer.observe("HorizontalPodAutoscaler", None, before, inventory)
    observer.observe(
        "HorizontalPodAutoscaler", "MODIFIED", evolve(before, spec__maxReplicas=20), inventory
    )

    [change] = drafts(observer)
    assert change.change_type is ChangeType.CONFIG_CHANGE
    assert change.summary == "HPA payments/api: maxReplicas 10 → 20"


def test_configmap_edit_lists_keys_hashes_values_and_links_consumers(
    observer: Observer, inventory: StaticInventory
) -> None:
    consumer = deployment(
        configmaps=("api-config",), labels={"app.kubernetes.io/part-of": "payments"}
    )
    observer.observe("Deployment", None, consumer, inventory)
    before = configmap(data={"LOG_LEVEL": "info", "TIMEOUT": "30", "REGION": "eu"})
    observer.observe("ConfigMap", None, before, inventory)
    after = evolve(before, data={"LOG_LEVEL": "debug", "TIMEOUT": "sixty-seconds", "REGION": "eu"})
    observer.observe("ConfigMap", "MODIFIED", after, inventory)

    [change] = drafts(observer)
    assert change.change_type is ChangeType.CONFIG_CHANGE
    assert change.summary == "Config payments/api-config: 2 keys changed (LOG_LEVEL, TIMEOUT)"
    assert change.service_name == "payments"
    assert change.details is not None
    assert change.details["consumers"] == ["Deployment/api"]
    assert "debug" not in str(change.details)
    assert "sixty-seconds" not in str(change.details)
    assert {entry["key"] for entry in change.details["diff"]} == {"LOG_LEVEL", "TIMEOUT"}
    assert all("old_hash" in entry and "new_hash" in entry for entry in change.details["diff"])


def test_binary_data_keys_are_diffed_too(observer: Observer, inventory: StaticInventory) -> None:
    before = configmap(binary={"cert.der": "AAAA"})
    observer.observe("ConfigMap", None, before, inventory)
    observer.observe(
        "ConfigMap", "MODIFIED", evolve(before, binaryData={"cert.der": "BBBB"}), inventory
    )

    [change] = drafts(observer)
    assert change.details is not None
    assert change.details["diff"][0]["field"] == "binaryData.cert.der"


def test_creation_and_deletion_while_watching_are_recorded(
    observer: Observer, inventory: StaticInventory
) -> None:
    body = deployment(created="2026-03-01T00:00:00Z")
    observer.observe("Deployment", "ADDED", body, inventory)
    observer.observe("Deployment", "DELETED", body, inventory)

    assert summaries(observer) == [
        "Create Deployment payments/api (api:1.4.2)",
        "Delete Deployment payments/api (api:1.4.2)",
    ]
    deletion = observer.outbox.queued()[-1]
    assert deletion.forget == ("prod-eu", "Deployment", body["metadata"]["uid"])
    assert observer.records == {}


def test_hpa_flapping_within_the_window_is_one_record(
    make_observer: ObserverFactory, inventory: StaticInventory, clock: FakeClock
) -> None:
    observer = make_observer(hpa_settle_seconds=60)
    body = hpa(desired=3)
    observer.observe("HorizontalPodAutoscaler", None, body, inventory)
    for desired in (6, 4, 6):
        clock.advance(10)
        body = evolve(body, spec_change=False)
        body["status"]["desiredReplicas"] = desired
        observer.observe("HorizontalPodAutoscaler", "MODIFIED", body, inventory)
    observer.tick()
    assert drafts(observer) == []

    clock.advance(61)
    observer.tick()
    assert [d.summary.split(" (")[0] for d in drafts(observer)] == ["Autoscale payments/api 3 → 6"]


def test_a_new_hpas_first_status_is_its_baseline_not_a_decision(
    make_observer: ObserverFactory, inventory: StaticInventory, clock: FakeClock
) -> None:
    observer = make_observer(hpa_settle_seconds=60)
    body = hpa(desired=0, last_scale=None)
    del body["status"]["desiredReplicas"]
    observer.observe("HorizontalPodAutoscaler", "ADDED", body, inventory)
    created = len(drafts(observer))
    clock.advance(5)
    body = evolve(body, spec_change=False)
    body["status"]["desiredReplicas"] = 2  # the size it found; lastScaleTime stays unset
    observer.observe("HorizontalPodAutoscaler", "MODIFIED", body, inventory)
    clock.advance(5)
    body = evolve(body, spec_change=False)
    body["status"].update(desiredReplicas=6, lastScaleTime="2026-01-01T00:05:00Z")
    observer.observe("HorizontalPodAutoscaler", "MODIFIED", body, inventory)
    clock.advance(61)
    observer.tick()
    decisions = [d.summary.split(" (")[0] for d in drafts(observer)[created:]]
    assert decisions == ["Autoscale payments/api 2 → 6"]


def test_hpa_flap_that_returns_to_the_start_records_nothing(
    make_observer: ObserverFactory, inventory: StaticInventory, clock: FakeClock
) -> None:
    observer = make_observer(hpa_settle_seconds=60)
    body = hpa(desired=3)
    observer.observe("HorizontalPodAutoscaler", None, body, inventory)
    for desired in (6, 3):
        clock.advance(5)
        body = evolve(body, spec_change=False)
        body["status"]["desiredReplicas"] = desired
        observer.observe("HorizontalPodAutoscaler", "MODIFIED", body, inventory)
    clock.advance(120)
    observer.tick()

    assert drafts(observer) == []


def test_namespace_annotations_name_the_service_and_environment(
    observer: Observer, inventory: StaticInventory
) -> None:
    inventory.namespaces["payments"] = NamespaceInfo(
        annotations={
            "changetrail.io/service": "payments-platform",
            "changetrail.io/environment": "staging",
        }
    )
    observer.observe("Deployment", "ADDED", deployment(), inventory)
    annotated = deployment("worker", annotations={"changetrail.io/service": "billing"})
    observer.observe("Deployment", "ADDED", annotated, inventory)

    assert [(d.service_name, d.environment) for d in drafts(observer)] == [
        ("payments-platform", "staging"),
        ("billing", "staging"),
    ]


def test_change_cause_annotation_becomes_the_description(
    observer: Observer, inventory: StaticInventory
) -> None:
    before = deployment()
    observer.observe("Deployment", None, before, inventory)
    after = with_image(before, "registry.example.com/api:1.5.0")
    after["metadata"]["annotations"]["kubernetes.io/change-cause"] = "release 1.5.0 (JIRA-42)"
    observer.observe("Deployment", "MODIFIED", after, inventory)

    [change] = drafts(observer)
    assert change.description == "release 1.5.0 (JIRA-42)"
    assert change.details is not None
    assert change.details["change_cause"] == "release 1.5.0 (JIRA-42)"


def test_policy_risk_and_environment_apply_to_governed_changes(
    observer: Observer, inventory: StaticInventory
) -> None:
    inventory.policy_list.append(
        parse_policy(
            "critical",
            "payments",
            {
                "kinds": ["Deployment"],
                "environment": "prod-eu",
                "service": {"name": "payments"},
                "risk": {"rules": [{"changeTypes": ["deployment"], "risk": "critical"}]},
            },
        )
    )
    before = deployment()
    observer.observe("Deployment", None, before, inventory)
    observer.observe("Deployment", "MODIFIED", with_image(before, "api:2"), inventory)

    [change] = drafts(observer)
    assert (change.environment, change.service_name) == ("prod-eu", "payments")
    assert change.risk_level is RiskLevel.CRITICAL
    assert change.details is not None
    assert change.details["policy"] == "ChangePolicy/payments/critical"
