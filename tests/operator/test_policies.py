"""Which policy governs an object, and what a policy spec may say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # schemathesis brings it; no stubs
import pytest
import yaml

from changetrail_operator.drafts import ChangeType, RiskLevel
from changetrail_operator.policies import Policy, PolicyError, effective_policy, parse_policy

DEFAULTS = Policy(environment="production")
CRDS = Path(__file__).parents[2] / "crds"


def _policy(name: str, namespace: str | None = None, **spec: Any) -> Policy:
    return parse_policy(name, namespace, spec)


def test_a_namespaced_policy_wins_over_a_cluster_policy() -> None:
    cluster = _policy("all", environment="prod")
    local = _policy("payments", "payments", environment="staging")
    chosen = effective_policy([cluster, local], DEFAULTS, "Deployment", {}, "payments", {})
    assert chosen is local
    assert effective_policy([cluster, local], DEFAULTS, "Deployment", {}, "orders", {}) is cluster


def test_defaults_apply_when_no_policy_matches() -> None:
    only_configmaps = _policy("cm", kinds=["ConfigMap"])
    labelled = _policy("labelled", selector={"matchLabels": {"tier": "web"}})
    chosen = effective_policy(
        [only_configmaps, labelled], DEFAULTS, "Deployment", {"tier": "db"}, "payments", {}
    )
    assert chosen is DEFAULTS


@pytest.mark.parametrize(
    ("expression", "labels", "matches"),
    [
        ({"key": "env", "operator": "In", "values": ["prod", "stage"]}, {"env": "prod"}, True),
        ({"key": "env", "operator": "In", "values": ["prod"]}, {"env": "dev"}, False),
        ({"key": "env", "operator": "NotIn", "values": ["dev"]}, {}, True),
        ({"key": "env", "operator": "Exists"}, {}, False),
        ({"key": "env", "operator": "DoesNotExist"}, {}, True),
    ],
)
def test_namespace_selectors_follow_kubernetes_semantics(
    expression: dict[str, Any], labels: dict[str, str], matches: bool
) -> None:
    policy = _policy("p", namespaceSelector={"matchExpressions": [expression]})
    chosen = effective_policy([policy], DEFAULTS, "ConfigMap", {}, "payments", labels)
    assert (chosen is policy) is matches


def test_risk_rules_pick_by_change_type_then_default() -> None:
    policy = _policy(
        "p",
        risk={"default": "medium", "rules": [{"changeTypes": ["rollback"], "risk": "critical"}]},
    )
    assert policy.risk_for(ChangeType.ROLLBACK) is RiskLevel.CRITICAL
    assert policy.risk_for(ChangeType.SCALING) is RiskLevel.MEDIUM


@pytest.mark.parametrize(
    ("spec", "namespace", "message"),
    [
        ({"kinds": ["Lease"]}, None, "unsupported"),
        ({"namespaceSelector": {}}, "payments", "only valid in a ClusterChangePolicy"),
        ({"risk": {"default": "extreme"}}, None, "risk"),
        (
            {"selector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
            None,
            "needs values",
        ),
    ],
)
def test_invalid_specs_are_refused_with_a_reason(
    spec: dict[str, Any], namespace: str | None, message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy("p", namespace, spec)


def _schema(file: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRDS / file).read_text())
    [version] = crd["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def _structural(schema: dict[str, Any], where: str = "") -> list[str]:
    """Nodes without a type: a structural schema must type every node."""
    missing = [] if "type" in schema else [where or "<root>"]
    for name, child in (schema.get("properties") or {}).items():
        missing += _structural(child, f"{where}.{name}")
    if isinstance(schema.get("items"), dict):
        missing += _structural(schema["items"], f"{where}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        missing += _structural(schema["additionalProperties"], f"{where}{{}}")
    return missing


@pytest.mark.parametrize(
    "file", ["changepolicies.changetrail.io.yaml", "clusterchangepolicies.changetrail.io.yaml"]
)
def test_crd_schemas_are_structural_with_status_and_columns(file: str) -> None:
    crd = yaml.safe_load((CRDS / file).read_text())
    [version] = crd["spec"]["versions"]
    assert _structural(_schema(file)) == []
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]][:3] == [
        "Ready",
        "Objects",
        "Changes",
    ]


def test_a_full_cluster_policy_validates_against_the_crd_and_parses() -> None:
    spec = {
        "kinds": ["Deployment", "ConfigMap"],
        "namespaceSelector": {"matchLabels": {"team": "payments"}},
        "selector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
        "ignore": {"names": ["*-canary"], "configMapKeys": ["*.lock"], "paths": ["spec.paused"]},
        "service": {"fromLabel": "app"},
        "environment": "staging",
        "risk": {"default": "low", "rules": [{"changeTypes": ["rollback"], "risk": "high"}]},
        "redaction": {"showValues": True, "keys": ["LOG_LEVEL"], "maxValueBytes": 32},
    }
    schema = _schema("clusterchangepolicies.changetrail.io.yaml")
    jsonschema.validate({"spec": spec}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec": {"kinds": ["Lease"]}}, schema)
    policy = parse_policy("payments", None, spec)
    assert policy.ignores_name("api-canary")
    assert policy.shown_value_keys() == ("LOG_LEVEL",)


def _documented_policies() -> list[dict[str, Any]]:
    text = (Path(__file__).parents[2] / "docs" / "crds.md").read_text()
    blocks = [block.split("```", 1)[0] for block in text.split("```yaml\n")[1:]]
    return [yaml.safe_load(block) for block in blocks]


def test_documented_examples_are_valid_policies() -> None:
    examples = _documented_policies()
    assert len(examples) == 4
    for example in examples:
        kind = example["kind"]
        plural = "changepolicies" if kind == "ChangePolicy" else "clusterchangepolicies"
        jsonschema.validate(example, _schema(f"{plural}.changetrail.io.yaml"))
        meta = example["metadata"]
        parse_policy(meta["name"], meta.get("namespace"), example["spec"])
