"""The kinds registry and the protocol: a kind is one module and a line in the registry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from changetrail_operator.changes import ObjectContext, draft
from changetrail_operator.drafts import ChangeDraft, ChangeType
from changetrail_operator.hashing import JsonDict, content_hash
from changetrail_operator.inventory import StaticInventory
from changetrail_operator.kinds import KIND_NAMES, KINDS, watched_kinds
from changetrail_operator.kinds.base import Kind
from changetrail_operator.policies import Policy, PolicyError, parse_policy
from changetrail_operator.resources import ApiResource
from changetrail_operator.settings import OperatorSettings
from changetrail_operator.workloads import Workloads
from tests.operator.conftest import ObserverFactory, drafts, summaries
from tests.operator.factories import configmap, evolve, hpa, uid


def test_the_registry_watches_workloads_first_and_secrets_only_when_asked() -> None:
    assert KIND_NAMES == (
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "CronJob",
        "Rollout",
        "ConfigMap",
        "Secret",
        "HorizontalPodAutoscaler",
    )
    assert [kind.resource.path() for kind in KINDS] == [
        "/apis/apps/v1/deployments",
        "/apis/apps/v1/statefulsets",
        "/apis/apps/v1/daemonsets",
        "/apis/batch/v1/cronjobs",
        "/apis/argoproj.io/v1alpha1/rollouts",
        "/api/v1/configmaps",
        "/apis/autoscaling/v2/horizontalpodautoscalers",
    ]
    assert len({kind.resource for kind in KINDS}) == len(KINDS)
    secrets = OperatorSettings(watch_secrets=True, secret_hash_key="k" * 32)
    assert "Secret" in [kind.name for kind in watched_kinds(secrets)]
    assert "Secret" not in [kind.name for kind in watched_kinds(OperatorSettings())]
    no_argo = OperatorSettings(watch_argo_rollouts=False)
    assert "Rollout" not in [kind.name for kind in watched_kinds(no_argo)]


def test_secrets_are_not_watched_without_a_hash_key() -> None:
    with pytest.raises(ValueError, match="SECRET_HASH_KEY"):
        OperatorSettings(watch_secrets=True)
    with pytest.raises(ValueError, match="SECRET_HASH_KEY"):
        OperatorSettings(watch_secrets=True, secret_hash_key="short")


def test_policies_accept_exactly_the_registered_kinds() -> None:
    assert Policy().kinds == frozenset(KIND_NAMES)
    assert parse_policy("all", None, {}).kinds == frozenset(KIND_NAMES)
    with pytest.raises(PolicyError, match="unsupported"):
        parse_policy("p", None, {"kinds": ["Lease"]})


def test_resource_paths_are_namespaced_only_where_they_can_be() -> None:
    configmaps = ApiResource("", "v1", "configmaps")
    namespaces = ApiResource("", "v1", "namespaces", namespaced=False)
    policies = ApiResource("changetrail.io", "v1alpha1", "clusterchangepolicies", namespaced=False)

    assert configmaps.path("payments") == "/api/v1/namespaces/payments/configmaps"
    assert configmaps.path("payments", "a b") == "/api/v1/namespaces/payments/configmaps/a%20b"
    assert namespaces.path("ignored", "payments") == "/api/v1/namespaces/payments"
    assert policies.path(None, "all", "status") == (
        "/apis/changetrail.io/v1alpha1/clusterchangepolicies/all/status"
    )


# A kind the operator does not watch, built only from the protocol: what another kind takes.


@dataclass(frozen=True, slots=True)
class LeaseState:
    holder: str | None
    duration: int | None


class LeaseKind(Kind[LeaseState]):
    name = "Lease"
    resource = ApiResource("coordination.k8s.io", "v1", "leases")
    lifecycle_type = ChangeType.INFRASTRUCTURE

    def noise(self, body: Mapping[str, Any]) -> str | None:
        return "system" if body["metadata"]["name"].startswith("kube-") else None

    def snapshot(self, body: Mapping[str, Any], policy: Policy) -> LeaseState:
        spec = body.get("spec") or {}
        return LeaseState(spec.get("holderIdentity"), spec.get("leaseDurationSeconds"))

    def dump(self, state: LeaseState) -> JsonDict:
        return {"holder": state.holder, "duration": state.duration}

    def load(self, data: JsonDict) -> LeaseState:
        return LeaseState(data.get("holder"), data.get("duration"))

    def describe(self, state: LeaseState) -> str:
        return f"held by {state.holder}"

    def changes(
        self, old: LeaseState, new: LeaseState, ctx: ObjectContext, workloads: Workloads
    ) -> list[ChangeDraft]:
        if old.holder == new.holder:
            return []
        return [
            draft(
                ctx,
                what="holder",
                version=content_hash([old.holder, new.holder], 8),
                summary=f"Lease {ctx.ref}: {old.holder} → {new.holder}",
                change_type=ChangeType.INFRASTRUCTURE,
            )
        ]


def _lease(name: str, holder: str, duration: int = 15) -> JsonDict:
    body = configmap(name)
    del body["data"]
    body.update(kind="Lease", spec={"holderIdentity": holder, "leaseDurationSeconds": duration})
    return body


def test_a_kind_from_the_protocol_alone_is_observed_like_the_others(
    make_observer: ObserverFactory, inventory: StaticInventory
) -> None:
    observer = make_observer()
    observer.kinds["Lease"] = LeaseKind()
    lease = _lease("leader", "pod-a")
    observer.observe("Lease", None, lease, inventory)  # listed: the baseline
    observer.observe("Lease", "MODIFIED", evolve(lease, spec_change=False), inventory)
    observer.observe(
        "Lease", "MODIFIED", evolve(lease, spec={"holderIdentity": "pod-b"}), inventory
    )
    observer.observe("Lease", "ADDED", _lease("kube-scheduler", "x"), inventory)

    restarted = make_observer()
    restarted.kinds["Lease"] = LeaseKind()
    restarted.records.update(observer.records)
    restarted.loaded_keys = set(restarted.records)
    restarted.sweep({"Lease": {uid()}})

    assert summaries(observer) == ["Lease payments/leader: pod-a → pod-b"]
    assert drafts(observer)[0].change_type is ChangeType.INFRASTRUCTURE
    assert summaries(restarted) == ["Delete Lease payments/leader (held by pod-b)"]


def test_the_pending_probe_counts_the_decisions_each_kind_holds_back(
    make_observer: ObserverFactory, inventory: StaticInventory
) -> None:
    observer = make_observer(hpa_settle_seconds=60)
    assert observer.pending_summary() == (
        "0 deliveries queued, 0 objects to re-diff, 0 HPA decisions settling, 0 rollouts followed"
    )
    body = hpa(desired=3)
    observer.observe("HorizontalPodAutoscaler", None, body, inventory)
    scaled = evolve(body, spec_change=False)
    scaled["status"]["desiredReplicas"] = 6
    observer.observe("HorizontalPodAutoscaler", "MODIFIED", scaled, inventory)

    assert observer.pending_summary() == (
        "1 deliveries queued, 0 objects to re-diff, 1 HPA decisions settling, 0 rollouts followed"
    )
