"""The chart installs on a real API server, and the server accepts an upgrade of it."""

from __future__ import annotations

from tests.e2e.harness.cluster import Cluster
from tests.e2e.harness.controlplane import OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT
from tests.e2e.harness.stack import helm


def test_release_is_deployed_with_the_operator_service_account(
    cluster: Cluster, chart: str
) -> None:
    status = helm(cluster.admin_kubeconfig, "status", chart, f"--namespace={OPERATOR_NAMESPACE}")

    assert "STATUS: deployed" in status
    account = cluster.kubectl.get("serviceaccount", OPERATOR_SERVICE_ACCOUNT, OPERATOR_NAMESPACE)
    assert account["metadata"]["name"] == OPERATOR_SERVICE_ACCOUNT


def test_server_side_dry_run_of_an_upgrade_passes_admission(
    cluster: Cluster, chart: str, chart_args: list[str]
) -> None:
    del chart
    rendered = helm(cluster.admin_kubeconfig, "upgrade", *chart_args, "--dry-run=server")

    assert "kind: ClusterRole" in rendered
    assert f"name: {OPERATOR_SERVICE_ACCOUNT}" in rendered
