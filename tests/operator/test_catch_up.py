"""After a restart, a re-list or a full queue, each missed change is recorded exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

from changetrail_operator.inventory import StaticInventory
from changetrail_operator.observer import Observer
from changetrail_operator.policies import parse_policy
from changetrail_operator.records import Record
from tests.operator.conftest import ObserverFactory, drafts, summaries
from tests.operator.factories import configmap, deployment, evolve, hpa, with_image


def _restarted(before: Observer, make_observer: ObserverFactory) -> Observer:
    """A fresh observer that loaded what ``before`` had stored."""
    after = make_observer()
    after.records.update(
        {
            key: Record(r.kind, r.namespace, r.name, r.state, r.fingerprint)
            for key, r in before.records.items()
        }
    )
    after.loaded_keys = set(after.records)
    return after


def test_change_made_while_away_is_recorded_once_with_the_live_external_id(
    observer: Observer, make_observer: ObserverFactory, inventory: StaticInventory
) -> None:
    v1 = deployment()
    observer.observe("Deployment", None, v1, inventory)
    v2 = with_image(v1, "registry.example.com/api:1.5.0")

    live = make_observer()
    live.records.update(observer.records)
    live.observe("Deployment", "MODIFIED", v2, inventory)

    restarted = _restarted(observer, make_observer)
    restarted.observe("Deployment", None, v2, inventory)  # the initial listing after restart
    restarted.observe("Deployment", None, v2, inventory)  # and a later re-list

    assert summaries(restarted) == ["Deploy payments/api: api:1.4.2 → 1.5.0"]
    assert drafts(restarted)[0].external_id == drafts(live)[0].external_id


def test_nothing_is_recorded_after_a_restart_when_nothing_changed(
    observer: Observer, make_observer: ObserverFactory, inventory: StaticInventory
) -> None:
    bodies = [deployment(), configmap(), hpa()]
    kinds = ["Deployment", "ConfigMap", "HorizontalPodAutoscaler"]
    for kind, body in zip(kinds, bodies, strict=True):
        observer.observe(kind, None, body, inventory)
    restarted = _restarted(observer, make_observer)
    for kind, body in zip(kinds, bodies, strict=True):
        restarted.observe(kind, None, evolve(body, spec_change=False), inventory)
    assert restarted.outbox.queued() == []


def test_objects_created_while_away_are_creations_and_older_ones_a_baseline(
    make_observer: ObserverFactory, inventory: StaticInventory
) -> None:
    observer = make_observer()
    observer.baseline_since = datetime(2026, 3, 1, tzinfo=UTC)
    observer.observe("ConfigMap", None, configmap("old", created="2026-02-01T00:00:00Z"), inventory)
    observer.observe("ConfigMap", None, configmap("new", created="2026-03-02T00:00:00Z"), inventory)
    assert summaries(observer) == ["Create ConfigMap payments/new (2 keys)"]
    assert len(observer.records) == 2


def test_objects_deleted_while_away_are_recorded_by_the_sweep(
    observer: Observer, make_observer: ObserverFactory, inventory: StaticInventory
) -> None:
    kept, gone = configmap("kept"), configmap("gone")
    observer.observe("ConfigMap", None, kept, inventory)
    observer.observe("ConfigMap", None, gone, inventory)
    restarted = _restarted(observer, make_observer)

    deleted = restarted.sweep({"ConfigMap": {kept["metadata"]["uid"]}, "Deployment": set()})

    assert deleted == 1
    assert summaries(restarted) == ["Delete ConfigMap payments/gone (2 keys)"]
    assert restarted.outbox.queued()[0].forget == ("prod-eu", "ConfigMap", gone["metadata"]["uid"])


def test_hpa_decision_made_while_away_is_recorded_after_restart(
    observer: Observer, make_observer: ObserverFactory, inventory: StaticInventory
) -> None:
    body = hpa(desired=3)
    observer.observe("HorizontalPodAutoscaler", None, body, inventory)
    scaled = evolve(body, spec_change=False)
    scaled["status"].update(desiredReplicas=8, lastScaleTime="2026-02-01T00:00:00Z")
    restarted = _restarted(observer, make_observer)
    restarted.observe("HorizontalPodAutoscaler", None, scaled, inventory)
    restarted.observe("HorizontalPodAutoscaler", None, scaled, inventory)
    assert [s.split(" (")[0] for s in summaries(restarted)] == ["Autoscale payments/api 3 → 8"]


def test_full_queue_loses_nothing_once_it_drains(
    make_observer: ObserverFactory, inventory: StaticInventory
) -> None:
    observer = make_observer(queue_max=1)
    v1 = configmap(data={"A": "1"})
    observer.observe("ConfigMap", None, v1, inventory)  # fills the queue
    v2 = evolve(v1, data={"A": "2"})
    v3 = evolve(v2, data={"A": "2", "B": "1"})
    observer.observe("ConfigMap", "MODIFIED", v2, inventory)  # does not fit
    observer.observe("ConfigMap", "MODIFIED", v3, inventory)  # nor this
    assert summaries(observer) == []

    observer.outbox._queue.clear()  # as if the API took the first delivery
    observer.recover_overflow()

    assert summaries(observer) == ["Config payments/api-config: 2 keys changed (A, B)"]
    stored = observer.outbox.queued()[0].store
    assert stored is not None
    assert stored.state["data"].keys() == {"A", "B"}


def test_a_new_ignore_rule_is_a_new_baseline_not_a_change(
    observer: Observer, inventory: StaticInventory
) -> None:
    body = configmap(data={"A": "1", "run.lock": "x"})
    observer.observe("ConfigMap", None, body, inventory)
    inventory.policy_list.append(
        parse_policy("locks", "payments", {"ignore": {"configMapKeys": ["*.lock"]}})
    )
    observer.observe(
        "ConfigMap", "MODIFIED", evolve(body, data={"A": "1", "run.lock": "y"}), inventory
    )
    observer.observe(
        "ConfigMap", "MODIFIED", evolve(body, data={"A": "2", "run.lock": "z"}), inventory
    )

    assert summaries(observer) == ["Config payments/api-config: 1 key changed (A)"]
