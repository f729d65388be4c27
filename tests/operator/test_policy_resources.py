"""Resources a ClusterChangePolicy names: their spec, field by field, under that policy."""

from __future__ import annotations

import pytest

from changetrail_operator.drafts import ChangeType
from changetrail_operator.inventory import StaticInventory
from changetrail_operator.kinds.generic import GenericKind, flatten, resource_id
from changetrail_operator.observer import Observer
from changetrail_operator.policies import PolicyError, named_resources, parse_policy
from changetrail_operator.resources import ApiResource
from tests.operator.conftest import ObserverFactory, drafts, summaries
from tests.operator.factories import JsonDict, evolve, uid

CERTIFICATES = ApiResource("cert-manager.io", "v1", "certificates")
POLICY_SPEC: JsonDict = {
    "resources": [{"group": "cert-manager.io", "version": "v1", "resource": "certificates"}],
    "ignore": {"paths": ["spec.renewBefore"]},
}


def certificate(
    name: str = "tls", created: str = "2026-01-01T00:00:00Z", **spec: object
) -> JsonDict:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": uid(),
            "generation": 1,
            "resourceVersion": "10",
            "creationTimestamp": created,
            "annotations": {"cert-manager.io/issue-temporary-certificate": "true"},
        },
        "spec": {
            "secretName": f"{name}-cert",
            "dnsNames": ["shop.example.com"],
            "issuerRef": {"kind": "ClusterIssuer", "name": "letsencrypt"},
            "renewBefore": "720h",
            **spec,
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


@pytest.fixture
def watching(make_observer: ObserverFactory) -> tuple[Observer, StaticInventory]:
    observer = make_observer()
    kind = GenericKind(CERTIFICATES, "Certificate")
    observer.kinds[kind.name] = kind
    inventory = StaticInventory(policy_list=[parse_policy("certificates", None, POLICY_SPEC)])
    return observer, inventory


def test_a_policy_naming_resources_governs_them_and_nothing_else_unless_it_says() -> None:
    policy = parse_policy("certificates", None, POLICY_SPEC)
    both = parse_policy("both", None, {**POLICY_SPEC, "kinds": ["Deployment"]})

    assert policy.resources == (CERTIFICATES,)
    assert resource_id(CERTIFICATES) == "certificates.cert-manager.io"
    assert policy.applies_to("certificates.cert-manager.io", {}, "shop", {})
    assert not policy.applies_to("Deployment", {}, "shop", {})
    assert both.applies_to("Deployment", {}, "shop", {})
    assert named_resources([policy, both, parse_policy("plain", None, {})]) == {CERTIFICATES}
    with pytest.raises(PolicyError, match="ClusterChangePolicy"):
        parse_policy("namespaced", "shop", POLICY_SPEC)
    with pytest.raises(PolicyError, match="version and resource"):
        parse_policy("bad", None, {"resources": [{"group": "x"}]})


def test_spec_changes_are_config_changes_naming_fields_and_list_growth(
    watching: tuple[Observer, StaticInventory],
) -> None:
    observer, inventory = watching
    before = certificate()
    kind_name = "certificates.cert-manager.io"
    observer.observe(kind_name, None, before, inventory)
    status_only = evolve(before, spec_change=False, status={"conditions": []})
    observer.observe(kind_name, "MODIFIED", status_only, inventory)
    renewed = evolve(status_only, spec__renewBefore="360h")  # ignored by the policy
    observer.observe(kind_name, "MODIFIED", renewed, inventory)
    grown = evolve(renewed)
    grown["spec"]["dnsNames"] = ["shop.example.com", "www.shop.example.com"]
    grown["spec"]["issuerRef"]["name"] = "letsencrypt-staging"
    observer.observe(kind_name, "MODIFIED", grown, inventory)

    [change] = drafts(observer)
    assert change.summary == "Certificate shop/tls: spec.dnsNames +1, spec.issuerRef.name changed"
    assert change.change_type is ChangeType.CONFIG_CHANGE
    assert "kind:certificate" in change.tags
    assert change.details is not None
    assert change.details["policy"] == "ClusterChangePolicy/certificates"
    assert change.details["diff"][0] == {
        "field": "spec.dnsNames",
        "change": "changed",
        "old_length": 1,
        "new_length": 2,
    }
    assert "letsencrypt" not in str(change.details), "values only when the policy shows them"


def test_shown_values_creation_and_deletion_use_the_resources_kind(
    make_observer: ObserverFactory,
) -> None:
    observer = make_observer()
    kind = GenericKind(CERTIFICATES, "Certificate")
    observer.kinds[kind.name] = kind
    shown = {**POLICY_SPEC, "redaction": {"showValues": True}}
    inventory = StaticInventory(policy_list=[parse_policy("certificates", None, shown)])
    body = certificate("api", created="2026-07-01T00:00:00Z")
    observer.observe(kind.name, "ADDED", body, inventory)
    observer.observe(kind.name, "MODIFIED", evolve(body, spec__secretName="api-cert-v2"), inventory)
    observer.observe(kind.name, "DELETED", body, inventory)

    assert summaries(observer) == [
        "Create Certificate shop/api (4 fields)",
        "Certificate shop/api: spec.secretName api-cert → api-cert-v2",
        "Delete Certificate shop/api (4 fields)",
    ]


def test_flattening_keeps_dotted_keys_apart_and_lists_whole() -> None:
    leaves = flatten({"spec": {"a.b": {"c": 1}, "list": [{"x": 1}], "empty": {}}})
    assert leaves == {"spec[a.b].c": 1, "spec.list": [{"x": 1}], "spec.empty": {}}
