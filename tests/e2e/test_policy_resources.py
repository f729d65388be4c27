"""Any resource a ClusterChangePolicy names is recorded, spec field by field, once the chart's
extra RBAC rules let the operator read it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness.cluster import Cluster
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.records import NamespaceRecords, summaries
from tests.e2e.harness.stack import helm

GROUP = "e2e.example.com"
CRD_NAME = f"widgets.{GROUP}"


def widget_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                },
                                "status": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


def widget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"color": "blue", "hosts": ["a.example.com"], "sizeHint": 3, **spec},
    }


@pytest.fixture
def widgets_readable(cluster: Cluster, chart_args: list[str], kubectl: Kubectl) -> Iterator[None]:
    """The CRD, and the chart upgraded with read access to it (operator.rbac.extraRules)."""
    extra = [
        f"--set=operator.rbac.extraRules[0].apiGroups[0]={GROUP}",
        "--set=operator.rbac.extraRules[0].resources[0]=widgets",
    ]
    kubectl.apply(widget_crd())
    kubectl.run("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
    helm(cluster.admin_kubeconfig, "upgrade", *chart_args, *extra)
    try:
        yield
    finally:
        kubectl.run("delete", "clusterchangepolicy", "widgets", "--ignore-not-found")
        kubectl.run("delete", "crd", CRD_NAME, "--wait=false")
        helm(cluster.admin_kubeconfig, "upgrade", *chart_args)


def test_a_named_resource_is_recorded_field_by_field_under_its_policy(
    widgets_readable: None, kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    del widgets_readable
    kubectl.apply(
        {
            "apiVersion": "changetrail.io/v1alpha1",
            "kind": "ClusterChangePolicy",
            "metadata": {"name": "widgets"},
            "spec": {
                "resources": [{"group": GROUP, "version": "v1", "resource": "widgets"}],
                "ignore": {"paths": ["spec.sizeHint"]},
                "risk": {"default": "high"},
            },
        }
    )
    kubectl.run("wait", "--for=condition=Ready", "clusterchangepolicy/widgets", "--timeout=60s")
    kubectl.apply(widget(), namespace=namespace)
    records.wait_for_count(1, timeout=60)

    kubectl.apply(widget(hosts=["a.example.com", "b.example.com"], sizeHint=5), namespace=namespace)
    kubectl.apply(widget(hosts=["a.example.com", "b.example.com"], sizeHint=7), namespace=namespace)
    kubectl.apply(
        widget(hosts=["a.example.com", "b.example.com"], color="red"), namespace=namespace
    )
    kubectl.run("-n", namespace, "delete", "widget", "w")

    found = records.settled()
    assert summaries(found) == [
        f"Create Widget {namespace}/w (2 fields)",
        f"Widget {namespace}/w: spec.hosts +1",
        f"Widget {namespace}/w: spec.color changed",
        f"Delete Widget {namespace}/w (2 fields)",
    ]
    assert {r["change_type"] for r in found} == {"config_change"}
    assert {r["risk_level"] for r in found} == {"high"}
    assert {r["details"]["policy"] for r in found} == {"ClusterChangePolicy/widgets"}
    assert all("kind:widget" in r["tags"] for r in found)
