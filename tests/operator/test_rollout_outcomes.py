"""A recorded rollout is followed until its controller says how it ended, by kubectl's rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from changetrail_operator.drafts import Completion, Outcome
from changetrail_operator.inventory import StaticInventory
from changetrail_operator.observer import Observer
from changetrail_operator.records import Record
from changetrail_operator.rollouts import (
    daemonset_progress,
    deployment_progress,
    statefulset_progress,
)
from tests.operator.conftest import ObserverFactory, drafts
from tests.operator.factories import (
    JsonDict,
    configmap,
    daemonset,
    deployment,
    evolve,
    managed,
    statefulset,
    with_image,
)


def completions(observer: Observer) -> list[Completion]:
    return [done for delivery in observer.outbox.queued() for done in delivery.completions]


def _status(body: JsonDict, written_at: str = "2026-02-01T10:03:00Z", **status: object) -> JsonDict:
    """The controller's status write: a new resourceVersion, the same generation."""
    new = evolve(body, spec_change=False)
    new["status"] = dict(status)
    new["metadata"]["managedFields"] = [
        *new["metadata"]["managedFields"],
        managed("kube-controller-manager", written_at, ("status",), subresource="status"),
    ]
    return new


def _complete(body: JsonDict) -> JsonDict:
    replicas = body["spec"]["replicas"]
    generation = body["metadata"]["generation"]
    return _status(
        body,
        observedGeneration=generation,
        replicas=replicas,
        updatedReplicas=replicas,
        availableReplicas=replicas,
    )


def _rolled_out(observer: Observer, inventory: StaticInventory) -> tuple[JsonDict, str]:
    before = deployment()
    observer.observe("Deployment", None, before, inventory)
    after = with_image(before, "registry.example.com/api:1.5.0")
    after["metadata"]["managedFields"] = [
        managed("kubectl", "2026-02-01T10:00:00Z", ("spec", "template"))
    ]
    observer.observe("Deployment", "MODIFIED", after, inventory)
    [rollout] = drafts(observer)
    assert rollout.outcome is Outcome.IN_PROGRESS
    assert rollout.external_id is not None
    return after, rollout.external_id


def test_a_rollout_succeeds_when_every_replica_is_updated_and_available(
    observer: Observer, inventory: StaticInventory
) -> None:
    body, external_id = _rolled_out(observer, inventory)
    # The controller has not seen the new spec yet: an old "complete" status proves nothing.
    stale = _status(body, observedGeneration=1, replicas=3, updatedReplicas=3, availableReplicas=3)
    observer.observe("Deployment", "MODIFIED", stale, inventory)
    halfway = _status(body, observedGeneration=2, replicas=4, updatedReplicas=2)
    observer.observe("Deployment", "MODIFIED", halfway, inventory)
    assert completions(observer) == []

    observer.observe("Deployment", "MODIFIED", _complete(body), inventory)
    observer.observe("Deployment", "MODIFIED", _complete(body), inventory)  # once only

    assert completions(observer) == [
        Completion(external_id, Outcome.SUCCEEDED, datetime(2026, 2, 1, 10, 3, tzinfo=UTC))
    ]
    uid = body["metadata"]["uid"]
    assert "rollout" not in observer.records[("Deployment", uid)].state
    assert observer.pending_summary().endswith("0 rollouts followed")


def test_a_progress_deadline_fails_the_rollout_at_once(
    observer: Observer, inventory: StaticInventory
) -> None:
    body, external_id = _rolled_out(observer, inventory)
    stuck = _status(
        body,
        observedGeneration=2,
        replicas=4,
        updatedReplicas=1,
        conditions=[
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "lastUpdateTime": "2026-02-01T10:10:00Z",
            }
        ],
    )
    observer.observe("Deployment", "MODIFIED", stuck, inventory)

    assert completions(observer) == [
        Completion(
            external_id,
            Outcome.FAILED,
            datetime(2026, 2, 1, 10, 10, tzinfo=UTC),
            "ProgressDeadlineExceeded",
        )
    ]


def test_a_newer_rollout_supersedes_and_an_undo_rolls_back_the_pending_one(
    observer: Observer, inventory: StaticInventory
) -> None:
    v2, first = _rolled_out(observer, inventory)
    v3 = with_image(v2, "registry.example.com/api:1.6.0")
    observer.observe("Deployment", "MODIFIED", v3, inventory)
    second = drafts(observer)[-1].external_id
    undo = with_image(v3, "registry.example.com/api:1.5.0")
    observer.observe("Deployment", "MODIFIED", undo, inventory)
    third = drafts(observer)[-1]

    assert [(c.external_id, c.outcome) for c in completions(observer)] == [
        (first, Outcome.SUPERSEDED),
        (second, Outcome.ROLLED_BACK),
    ]
    assert third.summary.startswith("Roll back payments/api")
    assert third.outcome is Outcome.IN_PROGRESS


def test_a_restarted_operator_keeps_following_and_a_deletion_ends_the_rollout(
    observer: Observer, make_observer: ObserverFactory, inventory: StaticInventory
) -> None:
    body, external_id = _rolled_out(observer, inventory)
    restarted = make_observer()
    for key, record in observer.records.items():
        restarted.records[key] = Record(
            record.kind, record.namespace, record.name, record.state, record.fingerprint
        )
    restarted._rollouts.update(observer._rollouts)
    restarted.loaded_keys = set(restarted.records)

    restarted.observe("Deployment", None, _complete(body), inventory)  # the listing
    assert [c.outcome for c in completions(restarted)] == [Outcome.SUCCEEDED]

    again = with_image(body, "registry.example.com/api:1.7.0")
    restarted.observe("Deployment", "MODIFIED", again, inventory)
    restarted.observe("Deployment", "DELETED", again, inventory)
    assert [(c.outcome, c.reason) for c in completions(restarted)][1:] == [
        (Outcome.SUPERSEDED, "deleted")
    ]
    assert completions(restarted)[0].external_id == external_id


def test_a_new_workload_is_followed_from_its_creation(
    observer: Observer, inventory: StaticInventory
) -> None:
    body = statefulset(created="2026-07-01T00:00:00Z")
    body["status"] = {"observedGeneration": 1, "replicas": 3, "readyReplicas": 1}
    observer.observe("StatefulSet", "ADDED", body, inventory)
    ready = _status(body, observedGeneration=1, replicas=3, readyReplicas=3, updatedReplicas=3)
    observer.observe("StatefulSet", "MODIFIED", ready, inventory)

    [created] = drafts(observer)
    assert created.summary == "Create StatefulSet data/postgres (postgres:16.3)"
    assert created.outcome is Outcome.IN_PROGRESS
    assert [c.outcome for c in completions(observer)] == [Outcome.SUCCEEDED]


@pytest.mark.parametrize(
    ("status", "partition", "expected"),
    [
        ({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 3}, None, "succeeded"),
        ({"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 3}, None, "in_progress"),
        ({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 2}, None, "in_progress"),
        # Partition 2: only the pod with ordinal 2 (of 0..2) is to be updated.
        ({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1}, 2, "succeeded"),
        ({"observedGeneration": 0, "readyReplicas": 3, "updatedReplicas": 3}, None, "in_progress"),
    ],
)
def test_statefulsets_end_by_kubectls_rules(
    status: JsonDict, partition: int | None, expected: str
) -> None:
    body = statefulset(partition=partition)
    body["status"] = status
    assert statefulset_progress(body).outcome.value == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            {
                "observedGeneration": 1,
                "desiredNumberScheduled": 4,
                "updatedNumberScheduled": 4,
                "numberAvailable": 4,
            },
            "succeeded",
        ),
        (
            {
                "observedGeneration": 1,
                "desiredNumberScheduled": 4,
                "updatedNumberScheduled": 4,
                "numberAvailable": 3,
            },
            "in_progress",
        ),
        (
            {
                "observedGeneration": 1,
                "desiredNumberScheduled": 4,
                "updatedNumberScheduled": 3,
                "numberAvailable": 4,
            },
            "in_progress",
        ),
    ],
)
def test_daemonsets_end_by_kubectls_rules(status: JsonDict, expected: str) -> None:
    body = daemonset()
    body["status"] = status
    assert daemonset_progress(body).outcome.value == expected


def test_deployments_wait_for_old_replicas_to_go() -> None:
    body = deployment(replicas=3)
    body["status"] = {
        "observedGeneration": 1,
        "replicas": 4,
        "updatedReplicas": 3,
        "availableReplicas": 3,
    }
    assert deployment_progress(body).outcome is Outcome.IN_PROGRESS


def test_a_completion_that_did_not_fit_waits_for_the_change_it_completes(
    make_observer: ObserverFactory, inventory: StaticInventory
) -> None:
    observer = make_observer(queue_max=1)
    observer.observe("ConfigMap", "ADDED", configmap(created="2026-07-01T00:00:00Z"), inventory)
    body = statefulset(created="2026-07-01T00:00:00Z")
    body["status"] = {"observedGeneration": 1, "readyReplicas": 0}
    observer.observe("StatefulSet", "ADDED", body, inventory)  # the queue is full: re-diffed
    ready = evolve(body, spec_change=False)
    ready["status"] = {"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 3}
    observer.observe("StatefulSet", "MODIFIED", ready, inventory)  # its end does not fit either

    sent: list[str] = []
    for _ in range(3):  # the outbox delivers one at a time and makes room again
        for delivery in observer.outbox.queued():
            sent += [draft.summary for draft in delivery.changes]
            sent += [f"{done.outcome.value}" for done in delivery.completions]
        observer.outbox._queue.clear()
        observer.recover_overflow()

    assert sent == [
        "Create ConfigMap payments/api-config (2 keys)",
        "Create StatefulSet data/postgres (postgres:16.3)",
        "succeeded",
    ]
