"""What the observer keeps for 2,000 Deployments and 10,000 ConfigMaps, against their size."""

from __future__ import annotations

import gc
import json
import tracemalloc

from changetrail_operator.inventory import StaticInventory
from changetrail_operator.observer import Observer
from tests.operator.conftest import ObserverFactory
from tests.operator.factories import JsonDict, configmap, deployment, managed

DEPLOYMENTS = 2_000
CONFIGMAPS = 10_000


def _realistic_deployment(index: int) -> JsonDict:
    body = deployment(
        f"service-{index}",
        f"team-{index % 50}",
        image=f"registry.example.com/team/service-{index}:1.{index % 7}.0",
        env={f"SETTING_{n}": f"value-{n}-{index}" for n in range(12)},
        configmaps=(f"service-{index}-config",),
        labels={"app.kubernetes.io/name": f"service-{index}", "team": f"team-{index % 50}"},
        managed_fields=[
            managed("helm", "2026-01-01T00:00:00Z", ("spec", "template"), ("spec", "selector")),
            managed(
                "kube-controller-manager", "2026-01-01T00:00:00Z", ("status",), subresource="status"
            ),
        ],
    )
    body["status"]["conditions"] = [
        {
            "type": kind,
            "status": "True",
            "reason": "NewReplicaSetAvailable",
            "lastUpdateTime": "2026-01-01T00:00:00Z",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
            "message": f'ReplicaSet "service-{index}-5d8f9c7b6d" has successfully progressed.',
        }
        for kind in ("Available", "Progressing")
    ]
    body["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = (
        json.dumps(body["spec"])
    )
    return body


def _realistic_configmap(index: int) -> JsonDict:
    body = configmap(
        f"service-{index}-config",
        f"team-{index % 50}",
        data={f"key_{n}": "x" * 120 + str(index) for n in range(8)},
    )
    body["metadata"]["managedFields"] = [
        managed("helm", "2026-01-01T00:00:00Z", *[("data", f"key_{n}") for n in range(8)])
    ]
    return body


def test_kept_state_is_far_smaller_than_the_watched_objects(
    make_observer: ObserverFactory, inventory: StaticInventory
) -> None:
    observer: Observer = make_observer(queue_max=DEPLOYMENTS + CONFIGMAPS + 1)
    raw_bytes = 0
    gc.collect()
    tracemalloc.start()
    try:
        for index in range(DEPLOYMENTS):
            body = _realistic_deployment(index)
            raw_bytes += len(json.dumps(body))
            observer.observe("Deployment", None, body, inventory)
        for index in range(CONFIGMAPS):
            body = _realistic_configmap(index)
            raw_bytes += len(json.dumps(body))
            observer.observe("ConfigMap", None, body, inventory)
        observer.outbox._queue.clear()  # delivered: only the observer's memory remains
        del body
        gc.collect()
        kept_bytes, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(observer.records) == DEPLOYMENTS + CONFIGMAPS
    ratio = kept_bytes / raw_bytes
    print(f"raw JSON {raw_bytes / 1e6:.1f} MB, kept {kept_bytes / 1e6:.1f} MB, ratio {ratio:.2f}")
    # States live on disk (see ``records``); memory holds a uid and a fingerprint per object.
    assert ratio < 0.25
