"""The operator observes: its ClusterRole reads what it watches and writes only policy status."""

from pathlib import Path

import pytest

from .rendering import CI_VALUES_FILES, Manifest, Render, find

WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*"}

# group -> resources the operator must never be able to change.
WATCHED_KINDS = {
    "apps": {"deployments", "replicasets", "statefulsets", "daemonsets"},
    "batch": {"cronjobs"},
    "": {"configmaps", "namespaces", "secrets"},
    "autoscaling": {"horizontalpodautoscalers"},
    "argoproj.io": {"rollouts"},
}
READ = ["get", "list", "watch"]

EXPECTED_RULES = [
    {
        "apiGroups": ["apps"],
        "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"],
        "verbs": READ,
    },
    {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": READ},
    {
        "apiGroups": [""],
        "resources": ["configmaps", "namespaces"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["autoscaling"],
        "resources": ["horizontalpodautoscalers"],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": ["argoproj.io"], "resources": ["rollouts"], "verbs": READ},
    {
        "apiGroups": ["apiextensions.k8s.io"],
        "resources": ["customresourcedefinitions"],
        "verbs": READ,
    },
    {
        "apiGroups": ["changetrail.io"],
        "resources": ["changepolicies", "clusterchangepolicies"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["changetrail.io"],
        "resources": ["changepolicies/status", "clusterchangepolicies/status"],
        "verbs": ["get", "patch", "update"],
    },
]


def granted(cluster_role: Manifest) -> set[tuple[str, str, str]]:
    """Every (group, resource, verb) the role grants, wildcards left as they are."""
    return {
        (group, resource, verb)
        for rule in cluster_role["rules"]
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule["verbs"]
    }


def write_grants_on_watched_kinds(cluster_role: Manifest) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for group, resource, verb in granted(cluster_role)
        if verb in WRITE_VERBS
        and (group == "*" or group in WATCHED_KINDS)
        and (resource == "*" or resource in WATCHED_KINDS.get(group, set()) or group == "*")
    }


@pytest.mark.parametrize(
    "values_file", [None, *CI_VALUES_FILES], ids=lambda p: getattr(p, "name", "defaults")
)
def test_no_write_verb_on_deployments_configmaps_or_autoscalers(
    render: Render, values_file: Path | None
) -> None:
    cluster_role = find(render(*([values_file] if values_file else [])), "ClusterRole")
    assert write_grants_on_watched_kinds(cluster_role) == set()


def test_the_write_check_notices_a_wildcard_or_a_patch() -> None:
    # Guards the check above against passing vacuously.
    too_wide: Manifest = {
        "rules": [
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]},
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        ]
    }
    found = write_grants_on_watched_kinds(too_wide)
    assert ("apps", "deployments", "patch") in found
    assert ("*", "*", "*") in found


def test_rules_are_exactly_the_reads_and_the_policy_status_writes(render: Render) -> None:
    cluster_role = find(render(), "ClusterRole")
    assert cluster_role["rules"] == EXPECTED_RULES
    assert not [verb for _, _, verb in granted(cluster_role) if verb == "*"]
    assert all("nonResourceURLs" not in rule for rule in cluster_role["rules"])


def test_the_chart_grants_nothing_namespaced_besides(render: Render) -> None:
    kinds = {m["kind"] for m in render()}
    assert "Role" not in kinds
    assert "RoleBinding" not in kinds


def test_rbac_can_be_managed_outside_the_chart(render: Render) -> None:
    kinds = {m["kind"] for m in render(overrides={"operator.rbac.create": "false"})}
    assert "ClusterRole" not in kinds
    assert "ClusterRoleBinding" not in kinds


def test_secrets_are_readable_only_when_the_operator_watches_them(render: Render) -> None:
    by_default = granted(find(render(), "ClusterRole"))
    watching = granted(find(render(overrides={"operator.watch.secrets": "true"}), "ClusterRole"))

    assert not {g for g in by_default if g[:2] == ("", "secrets")}
    assert {g for g in watching if g[:2] == ("", "secrets")} == {
        ("", "secrets", verb) for verb in READ
    }


def test_without_argo_rollouts_neither_rollouts_nor_crds_are_readable(render: Render) -> None:
    rules = find(render(overrides={"operator.watch.argoRollouts": "false"}), "ClusterRole")
    groups = {group for group, _, _ in granted(rules)}
    assert not groups & {"argoproj.io", "apiextensions.k8s.io"}


def test_extra_rules_for_policy_resources_are_read_only_whatever_is_asked(
    render: Render,
) -> None:
    overrides = {
        "operator.rbac.extraRules[0].apiGroups[0]": "cert-manager.io",
        "operator.rbac.extraRules[0].resources[0]": "certificates",
    }
    rules = find(render(overrides=overrides), "ClusterRole")["rules"]
    assert rules[-1] == {
        "apiGroups": ["cert-manager.io"],
        "resources": ["certificates"],
        "verbs": READ,
    }
