"""The in-cluster operator holds a key of its own: the chart generates it, the API creates it
with the operator's scopes, and it is refused everything an admin key may do."""

from __future__ import annotations

import base64

import httpx
import yaml

from tests.e2e.harness.changes_api import ChangesApi
from tests.e2e.harness.cluster import Cluster
from tests.e2e.harness.controlplane import OPERATOR_NAMESPACE
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.operator_key import (
    BOOTSTRAP_SECRET,
    operator_container,
    operator_key,
    operator_key_reference,
    secret_value,
)
from tests.e2e.harness.stack import CLUSTER_NAME, helm

OPERATOR_SCOPES = ["changes:read", "changes:write", "operator", "services:read", "services:write"]


def _client(changes: ChangesApi, key: str) -> httpx.Client:
    if changes.connection is not None:
        changes.connection.ensure()
    return httpx.Client(
        base_url=changes.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10.0
    )


def test_the_operator_pod_is_given_its_own_key_never_the_bootstrap_key(
    kubectl: Kubectl, chart: str
) -> None:
    del chart
    name, key = operator_key_reference(kubectl)
    assert name == "changetrail-operator-api-key"
    referenced = {
        entry["valueFrom"]["secretKeyRef"]["name"]
        for entry in operator_container(kubectl).get("env", [])
        if "secretKeyRef" in (entry.get("valueFrom") or {})
    }
    assert BOOTSTRAP_SECRET not in referenced
    own = secret_value(kubectl, name, key)
    assert own.startswith("ak_live_")
    assert own != secret_value(kubectl, BOOTSTRAP_SECRET, "api-key")


def test_the_operators_key_may_record_but_not_administer(
    kubectl: Kubectl, changes: ChangesApi
) -> None:
    key = operator_key(kubectl)
    with _client(changes, key) as operator:
        escalate = operator.post("/api/v1/api-keys", json={"name": "mine", "scopes": ["admin"]})
        assert escalate.status_code == 403, escalate.text
        assert operator.get("/api/v1/api-keys").status_code == 403
        assert operator.post("/api/v1/webhooks", json={"name": "hook"}).status_code == 403
        assert operator.get("/api/v1/incidents").status_code == 403
        assert operator.get("/api/v1/changes", params={"limit": 1}).status_code == 200
        stored = operator.get("/api/v1/operator/objects", params={"cluster": CLUSTER_NAME})
        assert stored.status_code == 200
        assert stored.json()["data"], "the operator keeps its state with this key"
    with _client(changes, changes.api_key) as admin:
        listed = admin.get("/api/v1/api-keys", params={"limit": 100})
    (own,) = [k for k in listed.json()["data"] if k["prefix"] == key[:12]]
    assert (own["name"], own["scopes"], own["revoked_at"]) == ("operator", OPERATOR_SCOPES, None)


def test_an_upgrade_keeps_the_operators_key(
    cluster: Cluster, kubectl: Kubectl, chart: str, chart_args: list[str]
) -> None:
    del chart
    installed = operator_key(kubectl)
    rendered = helm(cluster.admin_kubeconfig, "upgrade", *chart_args, "--dry-run=server")
    manifest = rendered.split("MANIFEST:", 1)[1].split("NOTES:", 1)[0]
    secrets = [
        doc
        for doc in yaml.safe_load_all(manifest)
        if doc and doc["kind"] == "Secret" and doc["metadata"]["name"].endswith("operator-api-key")
    ]
    (secret,) = secrets
    assert secret["metadata"]["namespace"] == OPERATOR_NAMESPACE
    assert base64.b64decode(secret["data"]["api-key"]).decode() == installed
