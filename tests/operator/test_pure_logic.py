"""The pure building blocks: managers, paths, images, metrics, backoff and settings."""

from __future__ import annotations

import pytest

from changetrail_operator.kinds.base import Kept
from changetrail_operator.kinds.configmap import configmap_state
from changetrail_operator.kinds.deployment import DeploymentKind, DeploymentState, deployment_state
from changetrail_operator.kinds.hpa import driving_metric
from changetrail_operator.kinds.pod_templates import image_transition, referenced_configmaps
from changetrail_operator.managers import changed_by, normalise_manager
from changetrail_operator.outbox import backoff_delay
from changetrail_operator.paths import split_path, without_paths
from changetrail_operator.policy_status import needs_update, policy_status
from changetrail_operator.settings import OperatorSettings
from tests.operator.factories import configmap, deployment, hpa, managed


@pytest.mark.parametrize(
    ("manager", "expected"),
    [
        ("kubectl-client-side-apply", "kubectl"),
        ("kubectl-edit", "kubectl"),
        ("kubectl-rollout", "kubectl"),
        ("kubectl", "kubectl"),
        ("helm", "helm"),
        ("argocd-application-controller", "argocd-controller"),
        ("kube-controller-manager", "kube-controller-manager"),
    ],
)
def test_managers_are_folded_into_the_tool_users_know(manager: str, expected: str) -> None:
    assert normalise_manager(manager) == expected


def test_the_newest_manager_owning_a_changed_field_made_the_change() -> None:
    body = deployment(
        managed_fields=[
            managed("helm", "2026-02-01T09:00:00Z", ("spec", "template")),
            managed("kubectl-edit", "2026-02-01T10:00:00Z", ("spec", "template")),
            managed("kube-controller-manager", "2026-02-01T11:00:00Z", ("metadata", "annotations")),
            managed(
                "kube-controller-manager", "2026-02-01T12:00:00Z", ("status",), subresource="status"
            ),
        ]
    )
    assert changed_by(body, [("spec", "template")]) == ("kubectl", "2026-02-01T10:00:00Z")
    # Nobody owns spec.replicas here: the newest non-status write is the best guess.
    assert changed_by(body, [("spec", "replicas")])[0] == "kube-controller-manager"
    assert changed_by(deployment(), [("spec",)]) == (None, None)


def test_image_transitions_read_like_a_release() -> None:
    assert image_transition("registry.example.com/api:1.4.2", "registry.example.com/api:1.5.0") == (
        "api:1.4.2 → 1.5.0"
    )
    assert image_transition("api:1.0", "other/api:1.0") == "api:1.0 → other/api:1.0"
    assert image_transition("localhost:5000/api", "localhost:5000/api:2") == (
        "localhost:5000/api → localhost:5000/api:2"
    )


def test_paths_with_dotted_keys_are_bracketed() -> None:
    assert split_path("metadata.annotations[example.com/x].y") == [
        "metadata",
        "annotations",
        "example.com/x",
        "y",
    ]
    body = {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}}
    assert without_paths(body, ["spec.template.spec.containers.image"]) == {
        "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}
    }
    assert body["spec"]["template"]["spec"]["containers"][0]["image"] == "x"  # not mutated


def _fingerprint(state: DeploymentState) -> str:
    return DeploymentKind().fingerprint(Kept(state))


def test_ignored_paths_do_not_change_the_fingerprint() -> None:
    before = deployment()
    after = deployment(object_uid=before["metadata"]["uid"])
    after["spec"]["template"]["metadata"]["annotations"] = {"sidecar.example.com/version": "2"}
    ignored = ["spec.template.metadata.annotations[sidecar.example.com/version]"]
    assert _fingerprint(deployment_state(before, ignored)) == _fingerprint(
        deployment_state(after, ignored)
    )
    assert _fingerprint(deployment_state(before)) != _fingerprint(deployment_state(after))


def test_configmap_state_keeps_hashes_and_only_allowed_short_values() -> None:
    body = configmap(data={"LOG_LEVEL": "info", "CERT": "x" * 500, "TOKEN": "secret"})
    state = configmap_state(body, ignored_keys=["TOKEN"], visible_keys=["*"], max_value_bytes=64)
    assert set(state.data) == {"LOG_LEVEL", "CERT"}
    assert state.values == {"LOG_LEVEL": "info"}
    assert "secret" not in str(configmap_state(body))


def test_configmaps_referenced_by_volumes_env_and_projections_are_found() -> None:
    pod_spec = {
        "volumes": [
            {"name": "a", "configMap": {"name": "mounted"}},
            {"name": "b", "projected": {"sources": [{"configMap": {"name": "projected"}}]}},
        ],
        "containers": [
            {
                "name": "c",
                "envFrom": [{"configMapRef": {"name": "env-from"}}],
                "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "env-key"}}}],
            }
        ],
    }
    assert referenced_configmaps(pod_spec) == ["env-from", "env-key", "mounted", "projected"]


def test_driving_metric_is_the_one_furthest_from_its_target() -> None:
    body = hpa(cpu_target=70)
    body["spec"]["metrics"].append(
        {
            "type": "Resource",
            "resource": {
                "name": "memory",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    )
    body["status"]["currentMetrics"] = [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 60}}},
        {
            "type": "Resource",
            "resource": {"name": "memory", "current": {"averageUtilization": 120}},
        },
    ]
    assert driving_metric(body) == "memory 120%/80%"


def test_backoff_grows_exponentially_and_is_capped() -> None:
    assert backoff_delay(1, base=0.5, cap=60, rand=lambda: 1.0) == 1.0
    assert backoff_delay(4, base=0.5, cap=60, rand=lambda: 1.0) == 8.0
    assert backoff_delay(40, base=0.5, cap=60, rand=lambda: 1.0) == 60.0
    assert backoff_delay(4, base=0.5, cap=60, rand=lambda: 0.25) == 2.0


def test_policy_status_keeps_the_transition_time_while_the_condition_holds() -> None:
    first = policy_status(
        generation=1, error=None, objects_matched=2, changes_recorded=0, previous=None
    )
    again = policy_status(
        generation=1, error=None, objects_matched=2, changes_recorded=0, previous=first
    )
    broken = policy_status(
        generation=2,
        error="kinds: unsupported",
        objects_matched=0,
        changes_recorded=0,
        previous=first,
    )
    assert again == first
    assert not needs_update(first, again)
    assert broken["conditions"][0]["status"] == "False"
    assert needs_update(first, broken)


def test_settings_read_comma_separated_namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHANGETRAIL_WATCH_NAMESPACES", "payments, orders")
    monkeypatch.setenv("CHANGETRAIL_IGNORE_NAMESPACES", "")
    monkeypatch.setenv("CHANGETRAIL_HPA_SETTLE_SECONDS", "30")
    settings = OperatorSettings()
    assert settings.watch_namespaces == ["payments", "orders"]
    assert settings.ignore_namespaces == []
    assert settings.hpa_settle_seconds == 30


def test_system_namespaces_are_ignored_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHANGETRAIL_IGNORE_NAMESPACES", raising=False)
    assert OperatorSettings().ignore_namespaces == ["kube-system", "kube-public", "kube-node-lease"]
