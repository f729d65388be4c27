"""Updates that are never a change record nothing."""

from __future__ import annotations

import pytest

from changetrail_operator.inventory import StaticInventory
from changetrail_operator.observer import Observer
from tests.operator.conftest import ObserverFactory, drafts
from tests.operator.factories import JsonDict, configmap, deployment, evolve, hpa, managed


def _observed_twice(
    observer: Observer, inventory: StaticInventory, kind: str, before: JsonDict, after: JsonDict
) -> None:
    observer.observe(kind, None, before, inventory)
    observer.observe(kind, "MODIFIED", after, inventory)


def test_status_only_updates_record_nothing(observer: Observer, inventory: StaticInventory) -> None:
    before = deployment()
    after = evolve(before, spec_change=False, status={"replicas": 3, "readyReplicas": 1})
    _observed_twice(observer, inventory, "Deployment", before, after)
    assert drafts(observer) == []


def test_metadata_churn_records_nothing(observer: Observer, inventory: StaticInventory) -> None:
    before = deployment()
    after = evolve(before, spec_change=False)
    after["metadata"]["managedFields"] = [
        managed("kube-controller-manager", "2026-02-01T00:00:00Z", ("status",))
    ]
    after["metadata"]["generation"] = 9
    _observed_twice(observer, inventory, "Deployment", before, after)
    # The generation is remembered (it keys external ids) but is not a change.
    assert drafts(observer) == []


def test_relist_and_resync_record_nothing(observer: Observer, inventory: StaticInventory) -> None:
    body = configmap()
    observer.observe("ConfigMap", None, body, inventory)
    observer.observe("ConfigMap", "ADDED", body, inventory)  # a watch re-announcing objects
    observer.observe("ConfigMap", None, body, inventory)  # a re-list after 410 Gone
    observer.observe("ConfigMap", "MODIFIED", body, inventory)  # a resync
    assert drafts(observer) == []
    assert len(observer.outbox.queued()) == 1  # only the baseline state


def test_hpa_current_replicas_and_metric_readings_record_nothing(
    observer: Observer, inventory: StaticInventory
) -> None:
    before = hpa(desired=3, cpu_current=40)
    after = evolve(before, spec_change=False)
    after["status"]["currentReplicas"] = 2
    after["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] = 65
    _observed_twice(observer, inventory, "HorizontalPodAutoscaler", before, after)
    assert drafts(observer) == []


@pytest.mark.parametrize(
    "body",
    [
        configmap("kube-root-ca.crt"),
        configmap("cluster-autoscaler-status"),
        configmap(
            "controller-lock",
            annotations={"control-plane.alpha.kubernetes.io/leader": '{"holderIdentity":"a"}'},
        ),
        configmap("coredns", namespace="kube-system"),
    ],
    ids=["root-ca", "autoscaler-status", "leader-election", "ignored-namespace"],
)
def test_system_configmaps_record_nothing(
    observer: Observer, inventory: StaticInventory, body: JsonDict
) -> None:
    observer.observe("ConfigMap", "ADDED", body, inventory)
    observer.observe("ConfigMap", "MODIFIED", evolve(body, data={"x": "changed"}), inventory)
    assert observer.outbox.queued() == []


def test_namespaces_outside_the_watched_list_record_nothing(
    make_observer: ObserverFactory, inventory: StaticInventory
) -> None:
    observer = make_observer(watch_namespaces="payments,orders")
    observer.observe("Deployment", "ADDED", deployment(namespace="billing"), inventory)
    observer.observe("Deployment", "ADDED", deployment(namespace="orders"), inventory)
    assert [d.summary for d in drafts(observer)] == ["Create Deployment orders/api (api:1.4.2)"]
