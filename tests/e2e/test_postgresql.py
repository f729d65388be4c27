"""The chart on PostgreSQL, installed as docs/install.md's production example does: the
database URL in a Secret the user manages, more than one API replica, and a database
outside the cluster (Debian's server on the host) reached through a Service without a
selector. The API replicas migrate it together, serve through the Service, and one of
them crashing loses nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.harness.chart_pods import ChartPods
from tests.e2e.harness.cluster import Cluster
from tests.e2e.harness.host_postgres import HostPostgres, running_for_node
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import deployment, image
from tests.e2e.harness.node import RealNode
from tests.e2e.harness.records import NamespaceRecords
from tests.e2e.harness.stack import CHART_DIR, CLUSTER_NAME, DOCS_IMAGE_PREFIX, helm

RELEASE = "changetrail-pg"
NAMESPACE = "changetrail-pg"
API_REPLICAS = 2
DATABASE_SERVICE = "postgresql"


def _external_database(kubectl: Kubectl, database: HostPostgres) -> None:
    """A Service named like an in-cluster database whose one endpoint is the host's server."""
    port = {"name": "postgresql", "port": 5432, "targetPort": database.port, "protocol": "TCP"}
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": DATABASE_SERVICE},
            "spec": {"ports": [port]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{DATABASE_SERVICE}-host",
                "labels": {"kubernetes.io/service-name": DATABASE_SERVICE},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [database.address]}],
            "ports": [{"name": "postgresql", "port": database.port, "protocol": "TCP"}],
        },
        namespace=NAMESPACE,
    )


@pytest.fixture
def release(
    real_node: RealNode, cluster: Cluster, kubectl: Kubectl, api_key: str
) -> Iterator[tuple[ChartPods, str]]:
    """The PostgreSQL release, its operator watching one namespace of its own."""
    watched = f"pg-watched-{os.urandom(3).hex()}"
    network = real_node.network
    with running_for_node(listen=network.host_address, client=network.node_address) as database:
        kubectl.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        cluster.create_workload_namespace(watched)
        _external_database(kubectl, database)
        url = database.url(f"{DATABASE_SERVICE}.{NAMESPACE}.svc")
        kubectl.run(
            "-n", NAMESPACE, "create", "secret", "generic", "changetrail-database",
            f"--from-literal=url={url}",
        )  # fmt: skip
        pods = ChartPods(
            kubectl=kubectl,
            node=real_node,
            api_key=api_key,
            log_dir=cluster.workdir / "logs",
            release=RELEASE,
            namespace=NAMESPACE,
        )
        try:
            helm(
                cluster.admin_kubeconfig, "install", RELEASE, str(CHART_DIR),
                f"--namespace={NAMESPACE}",
                f"--set=api.image.repository={DOCS_IMAGE_PREFIX}changetrail-api",
                f"--set=operator.image.repository={DOCS_IMAGE_PREFIX}changetrail-operator",
                "--set=database.type=postgresql",
                "--set=database.postgresql.existingSecret=changetrail-database",
                f"--set=api.replicaCount={API_REPLICAS}",
                "--set=api.podDisruptionBudget.enabled=true",
                f"--set=cluster.name={CLUSTER_NAME}-pg",
                f"--set=bootstrap.apiKey={api_key}",
                f"--set=operator.watchNamespaces={{{watched}}}",
            )  # fmt: skip
            pods.start()
            yield pods, watched
        finally:
            pods.stop()
            helm(
                cluster.admin_kubeconfig, "uninstall", RELEASE, f"--namespace={NAMESPACE}",
                "--wait",
            )  # fmt: skip
            kubectl.run("delete", "namespace", NAMESPACE, watched, "--wait=true", check=False)


def test_the_chart_runs_on_an_external_postgresql_with_several_api_replicas(
    release: tuple[ChartPods, str], real_node: RealNode, cluster: Cluster, kubectl: Kubectl
) -> None:
    pods, watched = release
    api_pods = pods.pods("api")
    assert len(api_pods) == API_REPLICAS
    for pod in api_pods:
        assert pod["spec"]["nodeName"] == real_node.name
        assert all(status["ready"] for status in pod["status"]["containerStatuses"])
    output = helm(
        cluster.admin_kubeconfig, "test", RELEASE, f"--namespace={NAMESPACE}", "--timeout=3m"
    )
    assert "Phase:          Succeeded" in output, output

    records = NamespaceRecords(pods.changes, kubectl, watched)
    records.create_sentinel()
    records.settled(timeout=180)
    kubectl.apply(deployment("web", tag="1.0.0"), namespace=watched)
    [created] = records.wait_for_count(1, timeout=120)
    assert created["summary"] == f"Create Deployment {watched}/web (api:1.0.0)"
    assert f"cluster:{CLUSTER_NAME}-pg" in created["tags"]

    # One replica crashes; the Service keeps answering from the other, from the same data.
    pods.kill("api", api_pods[0]["metadata"]["name"])
    kubectl.run("-n", watched, "set", "image", "deployment/web", f"web={image('1.1.0')}")
    [_, rollout] = records.wait_for_count(2, timeout=120)
    assert rollout["summary"] == f"Deploy {watched}/web: api:1.0.0 → 1.1.0"
