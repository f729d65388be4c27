"""ConfigMap edits become one config change naming the keys, linked to their consumers."""

from __future__ import annotations

import json

from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import configmap, deployment
from tests.e2e.harness.records import NamespaceRecords, added_since

SETTINGS = {"LOG_LEVEL": "info", "TIMEOUT": "5s", "REGION": "eu-west-1"}


def test_configmap_edit_names_changed_keys_and_links_consumers(
    kubectl: Kubectl, records: NamespaceRecords, namespace: str
) -> None:
    kubectl.apply(
        configmap("api-config", SETTINGS),
        deployment("api", configmap="api-config"),
        namespace=namespace,
    )
    records.settled()
    before = records.all()

    kubectl.apply(
        configmap("api-config", {**SETTINGS, "LOG_LEVEL": "debug", "TIMEOUT": "30s"}),
        namespace=namespace,
    )

    [edit] = added_since(before, records.settled())
    assert edit["change_type"] == "config_change"
    assert edit["summary"] == f"Config {namespace}/api-config: 2 keys changed (LOG_LEVEL, TIMEOUT)"
    details = json.dumps(edit["details"])
    # Values are never copied: only key names (and hashes) reach the API.
    assert "debug" not in details
    assert "30s" not in details
    assert any("api" in consumer for consumer in edit["details"]["consumers"])
    assert edit["service_name"] == "api", "the consuming Deployment's service"
