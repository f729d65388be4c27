"""The chart's CRDs are the files in crds/, and their schemas are structural.

Kubernetes prunes, defaults and validates custom resources only under a structural schema
(every node typed, no free-form root), and Helm installs whatever sits in the chart's crds/
folder; a copy that drifts from crds/ would install a different API than the operator reads.
"""

from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from .rendering import CHART_DIR, REPO_ROOT, Render, find

SOURCE_DIR = REPO_ROOT / "crds"
CHART_CRD_DIR = CHART_DIR / "crds"
JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
# What a structural schema allows inside allOf/anyOf/oneOf/not: value validations only.
FORBIDDEN_IN_JUNCTORS = {"type", "description", "default", "nullable", "additionalProperties"}


def yaml_files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.glob("*.yaml"))}


def structural_problems(
    node: dict[str, Any], path: str = "", in_junctor: bool = False
) -> list[str]:
    """Why a CRD version's openAPIV3Schema is not structural; empty when it is."""
    problems: list[str] = []
    where = path or "<root>"
    if "$ref" in node:
        problems.append(f"{where}: $ref is not allowed")
    if in_junctor:
        problems += [
            f"{where}: {key} inside a junctor" for key in FORBIDDEN_IN_JUNCTORS & node.keys()
        ]
    elif not node.get("type") and not (
        node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
    ):
        problems.append(f"{where}: no type")
    if "properties" in node and isinstance(node.get("additionalProperties"), dict):
        problems.append(f"{where}: both properties and additionalProperties")
    for name, child in node.get("properties", {}).items():
        problems += structural_problems(child, f"{path}.{name}", in_junctor)
    if isinstance(node.get("additionalProperties"), dict):
        problems += structural_problems(node["additionalProperties"], f"{path}[*]", in_junctor)
    if isinstance(node.get("items"), dict):
        problems += structural_problems(node["items"], f"{path}[]", in_junctor)
    for junctor in JUNCTORS:
        branches = node.get(junctor)
        for index, branch in enumerate(branches if isinstance(branches, list) else [branches]):
            if isinstance(branch, dict):
                problems += structural_problems(branch, f"{path}/{junctor}[{index}]", True)
    return problems


def root_problems(schema: dict[str, Any]) -> list[str]:
    problems = structural_problems(schema)
    if schema.get("type") != "object":
        problems.append("<root>: type must be object")
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        problems.append("<root>: x-kubernetes-preserve-unknown-fields keeps anything")
    return problems


def chart_crds() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted(CHART_CRD_DIR.glob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def test_chart_crds_are_byte_identical_to_crds_dir() -> None:
    source = yaml_files(SOURCE_DIR)
    assert source, "crds/ holds no CRD: the chart would install none"
    assert yaml_files(CHART_CRD_DIR) == source, "run scripts/sync-crds.sh"


def test_every_crd_version_has_a_structural_schema() -> None:
    crds = chart_crds()
    assert crds
    for crd in crds:
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            problems = root_problems(schema)
            assert problems == [], f"{crd['metadata']['name']} {version['name']}: {problems}"


def test_crds_are_valid_custom_resource_definitions() -> None:
    crds = chart_crds()
    assert crds
    for crd in crds:
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["spec"]["group"] == "changetrail.io"
        kubernetes_validate.validate(crd, kubernetes_validate.latest_version(), strict=True)


def test_operator_may_read_every_crd_and_write_only_their_status(render: Render) -> None:
    crds = chart_crds()
    plurals = {crd["spec"]["names"]["plural"] for crd in crds}
    assert plurals == {"changepolicies", "clusterchangepolicies"}
    for crd in crds:
        for version in crd["spec"]["versions"]:
            # The operator reports each policy's state through the status subresource only.
            assert "status" in version.get("subresources", {}), crd["metadata"]["name"]
    rules = find(render(), "ClusterRole")["rules"]
    readable = {r for rule in rules if "watch" in rule["verbs"] for r in rule["resources"]}
    writable = {r for rule in rules if "patch" in rule["verbs"] for r in rule["resources"]}
    assert plurals <= readable
    assert writable == {f"{plural}/status" for plural in plurals}


def test_the_structural_check_notices_untyped_and_free_form_schemas() -> None:
    untyped_field = {"type": "object", "properties": {"spec": {"properties": {"x": {}}}}}
    assert root_problems(untyped_field) == [".spec: no type", ".spec.x: no type"]
    free_root = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert root_problems(free_root) == [
        "<root>: x-kubernetes-preserve-unknown-fields keeps anything"
    ]
    typed_in_junctor = {"type": "object", "anyOf": [{"type": "string"}]}
    assert root_problems(typed_in_junctor) == ["/anyOf[0]: type inside a junctor"]
    int_or_string = {
        "type": "object",
        "properties": {"port": {"x-kubernetes-int-or-string": True, "anyOf": [{"minimum": 1}]}},
    }
    assert root_problems(int_or_string) == []
