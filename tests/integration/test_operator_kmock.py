"""The operator under kopf, against kmock as the cluster and the real API in-process."""

from __future__ import annotations

import copy
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kmock
import pytest
from prometheus_client import REGISTRY

from changetrail_operator.handlers import CLUSTER_CHANGE_POLICIES
from changetrail_operator.kinds import KIND_NAMES, KINDS
from changetrail_operator.kopf_internals import ObserverMemories
from changetrail_operator.kube_connection import USER_AGENT
from changetrail_operator.resources import ApiResource
from tests.integration.harness import (
    Api,
    Cluster,
    declare_resources,
    eventually,
    operator_settings,
    recorded,
    running_api,
    running_operator,
    serve_namespaces,
    synced,
)
from tests.operator.factories import JsonDict, configmap, cronjob, deployment, hpa, statefulset

KIND_PLURALS = [kind.resource.plural for kind in KINDS]
CERTIFICATES = ApiResource("cert-manager.io", "v1", "certificates")


@dataclass
class World:
    cluster: Cluster
    api: Api
    emulator: Any
    tmp_path: Path


@pytest.fixture
async def world(
    kmock: kmock.KubernetesEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    serve_namespaces(monkeypatch)
    declare_resources(kmock)
    cluster = Cluster(kmock)
    await cluster.create(
        "namespaces",
        {"metadata": {"name": "payments", "uid": "ns-payments", "labels": {"team": "pay"}}},
    )
    async with running_api(tmp_path) as api:
        yield World(cluster, api, kmock, tmp_path)


def _container(body: JsonDict, **changes: Any) -> JsonDict:
    return {**copy.deepcopy(body["spec"]["template"]["spec"]["containers"][0]), **changes}


async def _deploy(cluster: Cluster, body: JsonDict, image: str, generation: int) -> None:
    await cluster.patch(
        "deployments",
        "payments",
        body["metadata"]["name"],
        {
            "metadata": {"generation": generation, "resourceVersion": f"rv-{generation}"},
            "spec": {"template": {"spec": {"containers": [_container(body, image=image)]}}},
        },
    )


async def _summaries(api: Api, count: int) -> list[str]:
    changes = await eventually(lambda: _at_least(api, count))
    return [change["summary"] for change in changes]


async def _at_least(api: Api, count: int) -> list[dict[str, Any]] | None:
    changes = await recorded(api.http)
    return changes if len(changes) >= count else None


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_rollout_is_recorded_and_nothing_is_written_to_watched_objects(
    world: World,
) -> None:
    body = deployment()
    await world.cluster.create("deployments", body)
    await world.cluster.create("configmaps", configmap())
    await world.cluster.create("horizontalpodautoscalers", hpa(target="other"))
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 3)
        await _deploy(world.cluster, body, "registry.example.com/api:1.5.0", 2)

        [change] = await eventually(lambda: recorded(world.api.http))
        assert change["summary"] == "Deploy payments/api: api:1.4.2 → 1.5.0"
        assert change["source"] == "kubernetes"
        assert change["service_name"] == "api"
        assert "namespace:payments" in change["tags"]
    # A pure observer: kopf sent no write of any kind, to any object.
    assert world.cluster.operator_writes() == []


async def test_noise_records_nothing(world: World) -> None:
    body = deployment(replicas=3)
    await world.cluster.create("deployments", body)
    await world.cluster.create("configmaps", configmap("kube-root-ca.crt", data={"ca.crt": "x"}))
    await world.cluster.create("configmaps", configmap("sentinel", data={"A": "1"}))
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 2)
        await world.cluster.patch(
            "deployments", "payments", "api", {"status": {"readyReplicas": 1}}
        )
        await world.cluster.patch(
            "deployments",
            "payments",
            "api",
            {"metadata": {"resourceVersion": "9", "managedFields": [{"manager": "x"}]}},
        )
        await world.cluster.patch(
            "configmaps", "payments", "kube-root-ca.crt", {"data": {"ca.crt": "rotated"}}
        )
        await world.cluster.patch("configmaps", "payments", "sentinel", {"data": {"A": "2"}})

        assert await _summaries(world.api, 1) == ["Config payments/sentinel: 1 key changed (A)"]
        await runtime.outbox.wait_until(lambda: len(runtime.outbox) == 0)
        assert len(await recorded(world.api.http)) == 1


async def test_changes_while_away_are_recorded_once_after_a_restart(world: World) -> None:
    api_body, cache_body = deployment(), deployment("cache", image="redis:7.0")
    await world.cluster.create("deployments", api_body)
    await world.cluster.create("deployments", cache_body)
    await world.cluster.create("configmaps", configmap(data={"LOG_LEVEL": "info"}))
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 3)
        # Handlers of every object share the one runtime (kopf copies memos per object).
        await runtime.swept.wait()
    assert await recorded(world.api.http) == []

    # While the operator is away: a rollout, a config edit, a deletion and a creation.
    await _deploy(world.cluster, api_body, "registry.example.com/api:1.5.0", 2)
    await world.cluster.patch(
        "configmaps", "payments", "api-config", {"data": {"LOG_LEVEL": "debug"}}
    )
    await world.cluster.delete("deployments", "payments", "cache")
    await world.cluster.create(
        "configmaps", configmap("feature-flags", created="2099-01-01T00:00:00Z")
    )

    expected = {
        "Deploy payments/api: api:1.4.2 → 1.5.0",
        "Config payments/api-config: 1 key changed (LOG_LEVEL)",
        "Delete Deployment payments/cache (redis:7.0)",
        "Create ConfigMap payments/feature-flags (2 keys)",
    }
    for _ in range(2):  # and a second restart adds nothing
        async with running_operator(world.emulator, world.api.http) as runtime:
            assert set(await _summaries(world.api, 4)) == expected
            await runtime.outbox.wait_until(lambda: len(runtime.outbox) == 0)
        assert len(await recorded(world.api.http)) == 4


async def test_api_outage_queues_changes_and_delivers_them_once_it_is_back(
    world: World,
) -> None:
    body = deployment()
    await world.cluster.create("deployments", body)
    errors_before = _metric("changetrail_operator_api_errors_total", reason="connection")
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 1)
        world.api.transport.down = True
        await _deploy(world.cluster, body, "registry.example.com/api:1.5.0", 2)
        await _deploy(world.cluster, body, "registry.example.com/api:1.6.0", 3)
        await eventually(lambda: world.api.transport.refused >= 3)
        assert len(runtime.outbox) == 2
        assert runtime.outbox.failing
        assert _metric("changetrail_operator_queue_depth") == 2

        world.api.transport.down = False
        assert await _summaries(world.api, 2) == [
            "Deploy payments/api: api:1.4.2 → 1.5.0",
            "Deploy payments/api: api:1.5.0 → 1.6.0",
        ]
        await runtime.outbox.wait_until(lambda: len(runtime.outbox) == 0)
    assert _metric("changetrail_operator_api_errors_total", reason="connection") > errors_before
    assert len(await recorded(world.api.http)) == 2


async def test_objects_created_at_once_are_recorded_in_batches(world: World) -> None:
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 0)
        await runtime.swept.wait()
        for n in range(40):
            await world.cluster.create("configmaps", configmap(f"cfg-{n}", data={"N": str(n)}))
        for n in range(10):
            await world.cluster.create("deployments", deployment(f"app-{n}"))
        await eventually(lambda: _at_least(world.api, 50), within=30)
        await runtime.outbox.wait_until(lambda: len(runtime.outbox) == 0)

    transport = world.api.transport
    assert transport.count("POST", "/api/v1/changes") == 0
    # Far fewer requests than changes, however the creations were spread over time.
    assert 1 <= transport.count("POST", "/api/v1/changes/batch") < 25
    assert runtime.outbox.recorded == 50
    assert len(await recorded(world.api.http, limit=100)) == 50


async def test_an_api_without_the_batch_endpoint_is_sent_one_change_at_a_time(
    world: World,
) -> None:
    world.api.transport.hidden.add("/api/v1/changes/batch")
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 0)
        await runtime.swept.wait()
        for n in range(1, 6):
            await world.cluster.create("configmaps", configmap(f"cfg-{n}", data={"N": str(n)}))
            # Each one recorded before the next: a round of its own.
            await eventually(functools.partial(_at_least, world.api, n))
        await runtime.outbox.wait_until(lambda: len(runtime.outbox) == 0)

    transport = world.api.transport
    # Asked once, then remembered: the rest go one by one.
    assert transport.count("POST", "/api/v1/changes/batch") == 1
    assert transport.count("POST", "/api/v1/changes") == 5
    assert len(await recorded(world.api.http)) == 5


async def test_hpa_decisions_are_recorded_and_the_replicas_they_set_are_not(
    world: World,
) -> None:
    body = deployment(replicas=3)
    await world.cluster.create("deployments", body)
    await world.cluster.create("horizontalpodautoscalers", hpa(desired=3))
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 2)
        await world.cluster.patch(
            "horizontalpodautoscalers",
            "payments",
            "api",
            {
                "status": {
                    "desiredReplicas": 6,
                    "lastScaleTime": "2026-02-01T10:00:00Z",
                    "currentMetrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "current": {"averageUtilization": 91}},
                        }
                    ],
                }
            },
        )
        await world.cluster.patch(
            "deployments",
            "payments",
            "api",
            {"metadata": {"generation": 2}, "spec": {"replicas": 6}},
        )
        await world.cluster.patch(
            "horizontalpodautoscalers",
            "payments",
            "api",
            {"metadata": {"generation": 2}, "spec": {"maxReplicas": 20}},
        )
        assert await _summaries(world.api, 2) == [
            "Autoscale payments/api 3 → 6 (cpu 91%/70%)",
            "HPA payments/api: maxReplicas 10 → 20",
        ]
        await runtime.outbox.wait_until(lambda: len(runtime.outbox) == 0)
        assert len(await recorded(world.api.http)) == 2


async def test_configmap_change_is_linked_to_the_workload_that_mounts_it(world: World) -> None:
    await world.cluster.create(
        "deployments",
        deployment(configmaps=("api-config",), labels={"app.kubernetes.io/part-of": "checkout"}),
    )
    await world.cluster.create("configmaps", configmap(data={"TIMEOUT": "30"}))
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 2)
        await world.cluster.patch(
            "configmaps", "payments", "api-config", {"data": {"TIMEOUT": "90"}}
        )
        [change] = await eventually(lambda: recorded(world.api.http))
    assert change["service_name"] == "checkout"
    assert change["details"]["consumers"] == ["Deployment/api"]


async def test_policies_shape_records_and_report_their_status(world: World) -> None:
    await world.cluster.create(
        "changepolicies",
        {
            "apiVersion": "changetrail.io/v1alpha1",
            "kind": "ChangePolicy",
            "metadata": {"name": "staging", "namespace": "payments", "generation": 1},
            "spec": {
                "kinds": ["ConfigMap"],
                "environment": "staging",
                "ignore": {"configMapKeys": ["*.lock"]},
                "risk": {"rules": [{"changeTypes": ["config_change"], "risk": "high"}]},
                "redaction": {"showValues": True, "keys": ["LOG_LEVEL"]},
            },
        },
    )
    await world.cluster.create(
        "clusterchangepolicies",
        {
            "apiVersion": "changetrail.io/v1alpha1",
            "kind": "ClusterChangePolicy",
            "metadata": {"name": "broken", "generation": 3},
            "spec": {"namespaceSelector": {"matchExpressions": [{"key": "x", "operator": "In"}]}},
        },
    )
    await world.cluster.create("configmaps", configmap(data={"LOG_LEVEL": "info", "a.lock": "1"}))
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 1)
        await world.cluster.patch("configmaps", "payments", "api-config", {"data": {"a.lock": "2"}})
        await world.cluster.patch(
            "configmaps", "payments", "api-config", {"data": {"LOG_LEVEL": "debug"}}
        )
        [change] = await eventually(lambda: recorded(world.api.http))
        status = await eventually(lambda: _status(world, "changepolicies", "payments", "staging"))
        broken = await eventually(lambda: _status(world, "clusterchangepolicies", None, "broken"))

    assert change["environment"] == "staging"
    assert change["risk_level"] == "high"
    [entry] = change["details"]["diff"]
    assert (entry["old"], entry["new"]) == ("info", "debug")
    assert status["observedGeneration"] == 1
    assert status["conditions"][0]["status"] == "True"
    assert broken["observedGeneration"] == 3
    assert broken["conditions"][0]["status"] == "False"
    assert "needs values" in broken["conditions"][0]["message"]
    # The policy statuses are the only writes.
    assert {request.subresource for request in world.cluster.operator_writes()} == {"status"}


def _status(world: World, plural: str, namespace: str | None, name: str) -> JsonDict | None:
    status: JsonDict | None = world.emulator.objects[
        f"changetrail.io/v1alpha1/{plural}", namespace, name
    ].get("status")
    return status if status and status.get("conditions") else None


async def test_creation_and_deletion_while_watching_are_recorded(world: World) -> None:
    await world.cluster.create("configmaps", configmap("existing"))
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 1)
        await world.cluster.create("deployments", deployment("worker", image="worker:2.0"))
        await world.cluster.delete("configmaps", "payments", "existing")
        summaries = await _summaries(world.api, 2)
    assert sorted(summaries) == [
        "Create Deployment payments/worker (worker:2.0)",
        "Delete ConfigMap payments/existing (2 keys)",
    ]


async def test_policy_counts_in_status_follow_recorded_changes(world: World) -> None:
    await world.cluster.create(
        "clusterchangepolicies",
        {
            "apiVersion": "changetrail.io/v1alpha1",
            "kind": "ClusterChangePolicy",
            "metadata": {"name": "team-pay", "generation": 1},
            "spec": {"namespaceSelector": {"matchLabels": {"team": "pay"}}},
        },
    )
    await world.cluster.create("configmaps", configmap(data={"A": "1"}))
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 1)
        await world.cluster.patch("configmaps", "payments", "api-config", {"data": {"A": "2"}})
        await _summaries(world.api, 1)
        status = await eventually(
            lambda: _counted(world, "clusterchangepolicies", None, "team-pay", 1)
        )
    assert status["objectsMatched"] == 1
    [change] = await recorded(world.api.http)
    assert change["details"]["policy"] == "ClusterChangePolicy/team-pay"


async def test_the_sweep_and_policy_statuses_use_the_operators_own_client(world: World) -> None:
    # kopf only watches and indexes; the listing that finds deletions and the refreshed counts
    # are requests of the operator's own client, with the credentials kopf logged in with.
    await world.cluster.create(
        "clusterchangepolicies",
        {
            "apiVersion": "changetrail.io/v1alpha1",
            "kind": "ClusterChangePolicy",
            "metadata": {"name": "everything", "generation": 1},
            "spec": {},
        },
    )
    await world.cluster.create("configmaps", configmap(data={"A": "1"}))
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 1)
        await runtime.swept.wait()
        await world.cluster.patch("configmaps", "payments", "api-config", {"data": {"A": "2"}})
        await _summaries(world.api, 1)
        await eventually(lambda: _counted(world, "clusterchangepolicies", None, "everything", 1))
        # The counts the refresh would write (it writes only when kopf's own patch has not).
        status = {"objectsMatched": 1, "changesRecorded": 1}
        assert await runtime.kube.patch_status(CLUSTER_CHANGE_POLICIES, None, "everything", status)

    own = [r for r in world.emulator if r.headers.get("User-Agent", "").startswith(USER_AGENT)]
    listings = [r for r in own if r.method == kmock.method.GET]
    assert {r.resource.plural for r in listings} == set(KIND_PLURALS)
    assert all(r.params.get("limit") == "100" and r.namespace is None for r in listings)
    patches = [r for r in own if r.method == kmock.method.PATCH]
    assert {(r.name, r.subresource) for r in patches} == {("everything", "status")}
    assert _counted(world, "clusterchangepolicies", None, "everything", 1) is not None


def _counted(
    world: World, plural: str, namespace: str | None, name: str, changes: int
) -> JsonDict | None:
    status = _status(world, plural, namespace, name)
    return status if status and status.get("changesRecorded") == changes else None


async def test_rollback_restart_and_manual_scaling_are_told_apart(world: World) -> None:
    revision = "deployment.kubernetes.io/revision"
    body = deployment(replicas=3, revision="7")
    await world.cluster.create("deployments", body)
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 1)
        await _deploy(world.cluster, body, "registry.example.com/api:1.5.0", 2)
        # The deployment controller numbers the new ReplicaSet's revision after the rollout.
        await world.cluster.patch(
            "deployments", "payments", "api", {"metadata": {"annotations": {revision: "8"}}}
        )
        await _summaries(world.api, 1)
        await _deploy(world.cluster, body, "registry.example.com/api:1.4.2", 3)  # rollout undo
        await _summaries(world.api, 2)
        restarted = _container(body, image="registry.example.com/api:1.4.2")
        await world.cluster.patch(
            "deployments",
            "payments",
            "api",
            {
                "metadata": {"generation": 4},
                "spec": {
                    "template": {
                        "metadata": {
                            "annotations": {
                                "kubectl.kubernetes.io/restartedAt": "2026-02-01T12:00:00Z"
                            }
                        },
                        "spec": {"containers": [restarted]},
                    }
                },
            },
        )
        await _summaries(world.api, 3)
        await world.cluster.patch(
            "deployments",
            "payments",
            "api",
            {"metadata": {"generation": 5}, "spec": {"replicas": 5}},
        )
        summaries = await _summaries(world.api, 4)

    assert summaries == [
        "Deploy payments/api: api:1.4.2 → 1.5.0",
        "Roll back payments/api to revision 7 (api:1.4.2)",
        "Restart payments/api",
        "Scale payments/api 3 → 5",
    ]
    changes = await recorded(world.api.http)
    assert [c["change_type"] for c in changes] == [
        "deployment",
        "rollback",
        "deployment",
        "scaling",
    ]
    assert "restart" in changes[2]["tags"]


async def test_a_full_queue_during_an_outage_loses_nothing(world: World) -> None:
    await world.cluster.create("configmaps", configmap("first", data={"A": "1"}))
    await world.cluster.create("configmaps", configmap("second", data={"B": "1"}))
    settings = operator_settings(queue_max=1)
    async with running_operator(world.emulator, world.api.http, settings) as runtime:
        await synced(runtime, 2)
        world.api.transport.down = True
        await world.cluster.patch("configmaps", "payments", "first", {"data": {"A": "2"}})
        await eventually(lambda: len(runtime.outbox) == 1)
        await world.cluster.patch("configmaps", "payments", "first", {"data": {"A": "3"}})
        await world.cluster.patch("configmaps", "payments", "second", {"data": {"B": "2"}})
        await eventually(
            lambda: _metric("changetrail_operator_events_ignored_total", reason="queue-full") >= 2
        )
        world.api.transport.down = False

        summaries = await _summaries(world.api, 3)
        await runtime.outbox.wait_until(lambda: len(runtime.outbox) == 0)
    assert sorted(summaries) == [
        "Config payments/first: 1 key changed (A)",
        "Config payments/first: 1 key changed (A)",
        "Config payments/second: 1 key changed (B)",
    ]
    assert len(await recorded(world.api.http)) == 3


async def test_events_wait_while_the_api_is_down_at_start(world: World) -> None:
    await world.cluster.create("configmaps", configmap(data={"A": "1"}))
    world.api.transport.down = True
    runtime_settings = operator_settings()
    async with running_operator(
        world.emulator, world.api.http, runtime_settings, wait_loaded=False
    ) as runtime:
        await eventually(lambda: world.api.transport.refused >= 2)
        assert not runtime.loaded.is_set()
        await world.cluster.patch("configmaps", "payments", "api-config", {"data": {"A": "2"}})
        world.api.transport.down = False
        await runtime.loaded.wait()
        # First start: what existed before is the baseline, whatever it became meanwhile.
        await synced(runtime, 1)
        await world.cluster.patch("configmaps", "payments", "api-config", {"data": {"A": "3"}})
        assert await _summaries(world.api, 1) == ["Config payments/api-config: 1 key changed (A)"]


async def test_kopf_remembers_nothing_per_watched_object(world: World) -> None:
    for index in range(20):
        await world.cluster.create("configmaps", configmap(f"cfg-{index}", data={"A": "1"}))
    await world.cluster.create("deployments", deployment())
    await world.cluster.create(
        "clusterchangepolicies",
        {
            "apiVersion": "changetrail.io/v1alpha1",
            "kind": "ClusterChangePolicy",
            "metadata": {"name": "all", "generation": 1},
            "spec": {},
        },
    )
    memories = ObserverMemories(KIND_NAMES)
    async with running_operator(world.emulator, world.api.http, memories=memories) as runtime:
        await synced(runtime, 21)
        await world.cluster.patch("configmaps", "payments", "cfg-3", {"data": {"A": "2"}})
        await eventually(lambda: recorded(world.api.http))
        await eventually(lambda: _status(world, "clusterchangepolicies", None, "all"))
        # The namespace and the policy are indexed and patched: kopf keeps their memory.
        # The 21 watched objects, handled and recorded, leave none behind.
        assert len(memories) == 2


async def test_a_statefulset_rollout_is_completed_once_its_status_says_it_ended(
    world: World,
) -> None:
    body = statefulset(namespace="payments", replicas=2)
    await world.cluster.create("statefulsets", body)
    await world.cluster.create("cronjobs", cronjob(namespace="payments"))
    async with running_operator(world.emulator, world.api.http) as runtime:
        await synced(runtime, 2)
        container = {**body["spec"]["template"]["spec"]["containers"][0], "image": "pg:16.4"}
        await world.cluster.patch(
            "statefulsets",
            "payments",
            "postgres",
            {
                "metadata": {"generation": 2},
                "spec": {"template": {"spec": {"containers": [container]}}},
            },
        )
        [rollout] = await eventually(lambda: recorded(world.api.http))
        assert rollout["outcome"] == "in_progress"
        # A run of the CronJob writes its status only: never a change.
        await world.cluster.patch(
            "cronjobs", "payments", "backup", {"status": {"active": [{"name": "backup-1"}]}}
        )
        await world.cluster.patch(
            "statefulsets",
            "payments",
            "postgres",
            {"status": {"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 2}},
        )
        [ended] = await eventually(lambda: recorded(world.api.http, outcome="succeeded"))
        await runtime.outbox.wait_until(lambda: len(runtime.outbox) == 0)
    assert ended["id"] == rollout["id"]
    assert (
        ended["summary"] == "Deploy payments/postgres: registry.example.com/postgres:16.3 → pg:16.4"
    )
    assert ended["ended_at"] is not None
    assert len(await recorded(world.api.http)) == 1


async def test_a_resource_a_cluster_policy_names_is_watched_from_then_on(world: World) -> None:
    world.emulator.resources["cert-manager.io/v1/certificates"] = kmock.ResourceInfo(
        kind="Certificate",
        namespaced=True,
        verbs={"list", "watch", "get", "create", "patch", "update", "delete"},
    )
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "tls", "namespace": "payments", "generation": 1, "uid": "u-tls"},
        "spec": {"secretName": "tls", "dnsNames": ["pay.example.com"]},
    }
    await world.cluster.create("certificates", certificate)
    async with running_operator(world.emulator, world.api.http) as runtime:
        await runtime.swept.wait()
        await world.cluster.create(
            "clusterchangepolicies",
            {
                "apiVersion": "changetrail.io/v1alpha1",
                "kind": "ClusterChangePolicy",
                "metadata": {"name": "certificates", "generation": 1},
                "spec": {
                    "resources": [
                        {"group": "cert-manager.io", "version": "v1", "resource": "certificates"}
                    ]
                },
            },
        )
        # The listing when the policy appears is the baseline.
        await eventually(lambda: len(runtime.observer.records) == 1)
        await world.cluster.patch(
            "certificates",
            "payments",
            "tls",
            {
                "metadata": {"generation": 2},
                "spec": {"dnsNames": ["pay.example.com", "www.pay.example.com"]},
            },
        )
        [change] = await eventually(lambda: recorded(world.api.http))
        assert runtime.policy_resources.watched == {CERTIFICATES}
    assert change["summary"] == "Certificate payments/tls: spec.dnsNames +1"
    assert change["change_type"] == "config_change"
    assert change["details"]["policy"] == "ClusterChangePolicy/certificates"
