"""A ChangePolicy in a namespace changes what is recorded there and for which service."""

from __future__ import annotations

from typing import Any

from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import configmap, deployment
from tests.e2e.harness.records import NamespaceRecords, added_since

SERVICE = "checkout"


def change_policy(name: str, ignored_keys: list[str], service: str) -> dict[str, Any]:
    return {
        "apiVersion": "changetrail.io/v1alpha1",
        "kind": "ChangePolicy",
        "metadata": {"name": name},
        "spec": {"ignore": {"configMapKeys": ignored_keys}, "service": {"name": service}},
    }


def test_policy_ignores_a_key_and_maps_the_service(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    kubectl.apply(
        change_policy("checkout", ignored_keys=["CACHE_*"], service=SERVICE), namespace=namespace
    )
    # The operator reports a policy Ready once it governs with it.
    kubectl.run(
        "-n", namespace, "wait", "--for=condition=Ready", "changepolicy/checkout", "--timeout=60s"
    )
    kubectl.apply(
        configmap("flags", {"CACHE_BUSTER": "1", "CHECKOUT_V2": "off"}),
        deployment("web"),
        namespace=namespace,
    )
    created = records.settled()
    before = records.all()

    kubectl.apply(
        configmap("flags", {"CACHE_BUSTER": "2", "CHECKOUT_V2": "off"}), namespace=namespace
    )
    kubectl.apply(
        configmap("flags", {"CACHE_BUSTER": "3", "CHECKOUT_V2": "on"}), namespace=namespace
    )

    [edit] = added_since(before, records.settled())
    assert edit["summary"] == f"Config {namespace}/flags: 1 key changed (CHECKOUT_V2)"
    assert edit["service_name"] == SERVICE
    assert edit["details"]["policy"] == f"ChangePolicy/{namespace}/checkout"
    assert {record["service_name"] for record in created} == {SERVICE}
