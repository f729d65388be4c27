"""States as the operator stores them: an upgrade must read, and fingerprint alike, what the
previous version stored.

The expected states and fingerprints below were produced by the version that introduced this
test. A change to them means stored states would no longer match live objects after an upgrade:
every unchanged object would be diffed again, and a changed shape could misread old states.
"""

from __future__ import annotations

import json

import pytest

from changetrail_operator.hashing import JsonDict
from changetrail_operator.inventory import StaticInventory
from changetrail_operator.kinds import KIND_NAMES, registry
from changetrail_operator.kinds.secret import SecretKind
from changetrail_operator.observer import Observer
from changetrail_operator.policies import parse_policy
from tests.operator.conftest import ObserverFactory
from tests.operator.factories import (
    configmap,
    cronjob,
    daemonset,
    deployment,
    evolve,
    hpa,
    rollout,
    secret,
    statefulset,
    with_image,
)

HASH_KEY = b"pinned-hash-key-of-an-installation"
KINDS = registry(secret_hash_key=HASH_KEY)

STORED: dict[str, JsonDict] = {
    "ConfigMap/u-cm": {
        "fingerprint": "sha256:e4d7f046d1535f1cc5247330ff189343",
        "state": {
            "binary": {"cert.der": "63c1dd951ffedf6f"},
            "data": {
                "LOG_FORMAT": "09ecb6ebc8bcefc7",
                "LOG_LEVEL": "06271baf49532c87",
                "TIMEOUT": "624b60c58c9d8bfb",
            },
            "rules": "6895dee9",
            "values": {"LOG_LEVEL": "info"},
        },
    },
    "ConfigMap/u-plain": {
        "fingerprint": "sha256:d40c54e4d2eaafe6d61683594c14c42d",
        "state": {"binary": {}, "data": {"A": "6b86b273ff34fce1"}, "rules": None, "values": {}},
    },
    "Deployment/u-dep": {
        "fingerprint": "sha256:95cdbeacc403ff705ddedf3d1003c49a",
        "state": {
            "configmaps": ["api-config", "env-config"],
            "containers": {
                "api": {
                    "args": "74234e98",
                    "command": "74234e98",
                    "env": {"DB_PASSWORD": "975ab903", "LOG_LEVEL": "8b41902f"},
                    "env_from": "8e84f3b1",
                    "image": "registry.example.com/api:1.5.0",
                    "other": "a8682110",
                    "resources": {"requests": {"cpu": "500m"}},
                },
                "init:migrate": {
                    "args": "32ff6070",
                    "command": "74234e98",
                    "env": {},
                    "env_from": "74234e98",
                    "image": "registry.example.com/migrate:3",
                    "other": "44136fa3",
                    "resources": {},
                },
            },
            "generation": 2,
            "history": [["7f1352bb41a4fd1b", "1", ["registry.example.com/api:1.4.2"]]],
            "pod": "7b0d95a5",
            "replicas": 3,
            "restarted_at": "2026-02-01T12:00:00Z",
            "revision": "1",
            "rules": None,
            "template": "02745a6c327de4ee",
            "template_meta": "65051a75",
            "volumes": {"api-config": "5d1daa02"},
        },
    },
    "HorizontalPodAutoscaler/u-hpa": {
        "fingerprint": "sha256:34beaf29e6fe7f1bd2e2f6be2f82d41b",
        "state": {
            "desired": 5,
            "generation": 1,
            "last_scale": "2026-02-01T10:00:00Z",
            "rules": None,
            "spec": {
                "behavior": "b28f64a9",
                "maxReplicas": 10,
                "metrics": ["cpu 70%"],
                "minReplicas": 2,
                "target": "Deployment/api",
            },
        },
    },
    "CronJob/u-cron": {
        "fingerprint": "sha256:8ea4093b99b86266b5ab8d1289432a39",
        "state": {
            "configmaps": [],
            "containers": {
                "backup": {
                    "args": "74234e98",
                    "command": "74234e98",
                    "env": {},
                    "env_from": "74234e98",
                    "image": "registry.example.com/backup:1.2",
                    "other": "44136fa3",
                    "resources": {},
                }
            },
            "generation": 2,
            "job": "719442e3",
            "pod": "2b418c34",
            "restarted_at": None,
            "rules": None,
            "scheduling": {"concurrencyPolicy": "Forbid", "schedule": "0 3 * * *"},
            "suspended": False,
            "template": "80d5e7af58e4e4ee",
            "template_meta": "8db7e85b",
            "volumes": {},
        },
    },
    "DaemonSet/u-ds": {
        "fingerprint": "sha256:3a682203d45bb529acf5ccd54164cab9",
        "state": {
            "configmaps": [],
            "containers": {
                "node-agent": {
                    "args": "74234e98",
                    "command": "74234e98",
                    "env": {},
                    "env_from": "74234e98",
                    "image": "registry.example.com/agent:2.1",
                    "other": "44136fa3",
                    "resources": {"requests": {"cpu": "100m"}},
                }
            },
            "generation": 1,
            "history": [],
            "pod": "44136fa3",
            "replicas": None,
            "restarted_at": None,
            "revision": None,
            "rules": None,
            "strategy": {"partition": None, "type": "OnDelete"},
            "template": "088256e165f54cf0",
            "template_meta": "05bc581a",
            "volumes": {},
        },
    },
    "Rollout/u-ro": {
        "fingerprint": "sha256:f2c6973d769791149a9fd66748d99118",
        "state": {
            "canary": {"aborted": False, "promoted_full": False, "step": 1, "waiting": True},
            "configmaps": [],
            "containers": {
                "web": {
                    "args": "74234e98",
                    "command": "74234e98",
                    "env": {},
                    "env_from": "74234e98",
                    "image": "registry.example.com/web:2.3",
                    "other": "44136fa3",
                    "resources": {"requests": {"cpu": "100m"}},
                }
            },
            "generation": 1,
            "history": [],
            "pod": "44136fa3",
            "replicas": 4,
            "restarted_at": None,
            "revision": "1",
            "rules": None,
            "strategy": {"partition": None, "type": "canary"},
            "template": "a4d3de733f24415f",
            "template_meta": "97fd35eb",
            "volumes": {},
        },
    },
    "Secret/u-sec": {
        "fingerprint": "sha256:a9a0bbae0d283fdaf41da64455cd067f",
        "state": {
            "hashes": {"PASSWORD": "82b14b78220e1b9a", "USER": "7a5181170f90ba62"},
            "rules": None,
            "sizes": {"PASSWORD": 7, "USER": 3},
        },
    },
    "StatefulSet/u-sts": {
        "fingerprint": "sha256:6388d62994f92f8c3ba62e9a6562183f",
        "state": {
            "configmaps": [],
            "containers": {
                "postgres": {
                    "args": "74234e98",
                    "command": "74234e98",
                    "env": {},
                    "env_from": "74234e98",
                    "image": "postgres:16.4",
                    "other": "44136fa3",
                    "resources": {"requests": {"cpu": "100m"}},
                }
            },
            "generation": 2,
            "history": [
                ["4096ea74f9d2363a", "postgres-7d9f8c6b5", ["registry.example.com/postgres:16.3"]]
            ],
            "pod": "44136fa3",
            "replicas": 3,
            "restarted_at": None,
            "revision": "postgres-7d9f8c6b5",
            "rollout": {
                "change": "k8s:prod-eu:StatefulSet:u-sts:rollout:g2",
                "generation": 2,
                "since": "2026-02-01T10:00:00+00:00",
            },
            "rules": None,
            "strategy": {"partition": 2, "type": "RollingUpdate"},
            "template": "3dcd3754f1e2222f",
            "template_meta": "17542655",
            "volumes": {},
        },
    },
}


@pytest.fixture
def observed(make_observer: ObserverFactory) -> Observer:
    """An observer that saw one object of each kind, with the features their states keep."""
    observer = make_observer()
    observer.kinds["Secret"] = SecretKind(HASH_KEY)
    inventory = StaticInventory()
    inventory.policy_list.append(
        parse_policy(
            "shown",
            "payments",
            {
                "kinds": ["ConfigMap"],
                "ignore": {"configMapKeys": ["*.lock"]},
                "redaction": {"showValues": True, "keys": ["LOG_*"]},
            },
        )
    )

    api = deployment(
        env={"LOG_LEVEL": "info", "DB_PASSWORD": "hunter2"},
        configmaps=("api-config",),
        object_uid="u-dep",
        labels={"app.kubernetes.io/part-of": "payments"},
    )
    pod = api["spec"]["template"]["spec"]
    pod["initContainers"] = [
        {"name": "migrate", "image": "registry.example.com/migrate:3", "args": ["up"]}
    ]
    pod["containers"][0]["envFrom"] = [{"configMapRef": {"name": "env-config"}}]
    pod["containers"][0]["ports"] = [{"containerPort": 8080}]
    pod["serviceAccountName"] = "api"
    observer.observe("Deployment", None, api, inventory)
    rolled = with_image(api, "registry.example.com/api:1.5.0")
    rolled["spec"]["template"]["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/restartedAt": "2026-02-01T12:00:00Z",
        "x": "y",
    }
    observer.observe("Deployment", "MODIFIED", rolled, inventory)
    # The rollout ends: the state no longer holds it, and is what earlier versions stored.
    done = evolve(rolled, spec_change=False)
    done["status"] = {
        "observedGeneration": 2,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
    }
    observer.observe("Deployment", "MODIFIED", done, inventory)

    # A StatefulSet rolling out under a partition: its state holds the rollout in progress.
    database = statefulset(object_uid="u-sts", partition=2)
    observer.observe("StatefulSet", None, database, inventory)
    upgraded = evolve(database)
    upgraded["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres:16.4"
    upgraded["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    upgraded["metadata"]["managedFields"] = [
        {"manager": "kubectl", "time": "2026-02-01T10:00:00Z", "fieldsV1": {"f:spec": {}}}
    ]
    observer.observe("StatefulSet", "MODIFIED", upgraded, inventory)

    observer.observe("DaemonSet", None, daemonset(object_uid="u-ds", on_delete=True), inventory)
    backup = cronjob(object_uid="u-cron")
    observer.observe("CronJob", None, backup, inventory)
    observer.observe("CronJob", "MODIFIED", evolve(backup, spec__schedule="0 3 * * *"), inventory)
    web = rollout(object_uid="u-ro")
    web["status"].update(
        currentStepIndex=1, phase="Paused", pauseConditions=[{"reason": "CanaryPauseStep"}]
    )
    observer.observe("Rollout", None, web, inventory)
    observer.observe("Secret", None, secret(object_uid="u-sec"), inventory)

    shown = configmap(
        data={"LOG_LEVEL": "info", "TIMEOUT": "30", "run.lock": "1", "LOG_FORMAT": "x" * 100},
        binary={"cert.der": "AAAA"},
        object_uid="u-cm",
    )
    observer.observe("ConfigMap", None, shown, inventory)
    observer.observe(
        "ConfigMap",
        None,
        configmap("plain", "orders", data={"A": "1"}, object_uid="u-plain"),
        inventory,
    )

    autoscaler = hpa(object_uid="u-hpa", desired=3)
    autoscaler["spec"]["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": 300}}
    observer.observe("HorizontalPodAutoscaler", None, autoscaler, inventory)
    scaled = evolve(autoscaler, spec_change=False)
    scaled["status"].update(desiredReplicas=5, lastScaleTime="2026-02-01T10:00:00Z")
    observer.observe("HorizontalPodAutoscaler", "MODIFIED", scaled, inventory)
    observer.tick()
    return observer


def test_stored_states_and_fingerprints_keep_their_shape(observed: Observer) -> None:
    stored = {
        f"{kind}/{uid}": {
            "fingerprint": observed.records[(kind, uid)].fingerprint,
            "state": observed.records[(kind, uid)].state,
        }
        for kind, uid in sorted(observed.records)
    }
    assert stored == STORED


@pytest.mark.parametrize("key", sorted(STORED))
def test_a_stored_state_reads_back_to_the_same_json_and_fingerprint(key: str) -> None:
    kind = next(kind for kind in KINDS if key.startswith(f"{kind.name}/"))
    stored = STORED[key]

    kept = kind.from_json(stored["state"])

    assert kind.to_json(kept) == stored["state"]
    assert kind.fingerprint(kept) == stored["fingerprint"]
    # And through JSON text, as the API and the local cache hand states back.
    assert (
        kind.to_json(kind.from_json(json.loads(json.dumps(kind.to_json(kept)))))
        == (stored["state"])
    )


def test_states_of_every_kind_are_pinned() -> None:
    assert {key.split("/")[0] for key in STORED} == set(KIND_NAMES)
