from __future__ import annotations

from typing import Any

import pytest

from changetrail_api.correlation import KubernetesRef, kubernetes_ref


def operator_details(**overrides: Any) -> dict[str, Any]:
    details: dict[str, Any] = {
        "kubernetes": {
            "cluster": "prod-eu",
            "kind": "ConfigMap",
            "namespace": "payments",
            "name": "api-config",
            "uid": "0b1c",
        },
        "diff": [],
        "consumers": ["payments/api"],
    }
    details.update(overrides)
    return details


def test_reads_the_operator_resource_reference_and_consumers() -> None:
    assert kubernetes_ref(operator_details(), []) == KubernetesRef(
        "payments", "ConfigMap", "api-config", ("payments/api",)
    )


def test_falls_back_to_namespace_and_kind_tags() -> None:
    ref = kubernetes_ref(None, ["cluster:prod", "namespace:search", "kind:deployment"])
    assert ref == KubernetesRef(namespace="search", kind="deployment")


@pytest.mark.parametrize(
    "details",
    [
        None,
        {},
        {"kubernetes": "not a mapping"},
        {"kubernetes": {"namespace": 3, "name": None}},
        {"consumers": "payments/api"},
        {"consumers": [None, 4, ""]},
    ],
)
def test_a_change_without_usable_kubernetes_facts_names_no_object(details: Any) -> None:
    assert kubernetes_ref(details, ["release", 7]) is None
