"""The API key the chart gives its operator: which Secret the operator Deployment reads it
from, and its value."""

from __future__ import annotations

import base64
from typing import Any

from tests.e2e.harness.controlplane import OPERATOR_NAMESPACE
from tests.e2e.harness.kube import Kubectl

OPERATOR_DEPLOYMENT = "changetrail-operator"
BOOTSTRAP_SECRET = "changetrail-bootstrap"


def operator_container(kubectl: Kubectl, namespace: str = OPERATOR_NAMESPACE) -> dict[str, Any]:
    deployment = kubectl.get("deployment", OPERATOR_DEPLOYMENT, namespace)
    (container,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "operator"
    ]
    return dict(container)


def operator_key_reference(
    kubectl: Kubectl, namespace: str = OPERATOR_NAMESPACE
) -> tuple[str, str]:
    """(Secret name, key inside it) of the operator's CHANGETRAIL_API_KEY."""
    (entry,) = [
        e
        for e in operator_container(kubectl, namespace)["env"]
        if e["name"] == "CHANGETRAIL_API_KEY"
    ]
    reference = entry["valueFrom"]["secretKeyRef"]
    return str(reference["name"]), str(reference["key"])


def secret_value(kubectl: Kubectl, name: str, key: str, namespace: str = OPERATOR_NAMESPACE) -> str:
    secret = kubectl.get("secret", name, namespace)
    return base64.b64decode(secret["data"][key]).decode()


def operator_key(kubectl: Kubectl, namespace: str = OPERATOR_NAMESPACE) -> str:
    """The key the operator pod is given."""
    name, key = operator_key_reference(kubectl, namespace)
    return secret_value(kubectl, name, key, namespace)
