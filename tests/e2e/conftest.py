"""Fixtures of the e2e suite: one cluster, one chart install, one API and one operator
per run; a fresh namespace per test.

By default the suite builds (or takes from the cache) and starts its own control
plane. With ``CHANGETRAIL_E2E_KUBECONFIG`` it uses that cluster instead (how
``make kind-e2e`` runs the same tests against kind).

When e2e/run.sh could build a real node's parts and the images (as root), the suite's
cluster also gets a real node (kubelet, containerd, runc), the chart is installed as
docs/install.md says and the scenarios drive the chart's own pods. Where the node cannot
run, the suite says why; under CI=true the real-node scenarios then fail instead of
skipping.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import tarfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.e2e.harness.changes_api import ChangesApi, RecordsNotReachedError
from tests.e2e.harness.chart_pods import ChartPods
from tests.e2e.harness.cluster import Cluster
from tests.e2e.harness.controlplane import (
    LOOPBACK,
    OPERATOR_NAMESPACE,
    OPERATOR_SERVICE_ACCOUNT,
    ControlPlane,
    fake_node_manifest,
    write_kubeconfig,
)
from tests.e2e.harness.database import throwaway_database_url
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.node import NodeNetwork, NodeParts, RealNode, missing_prerequisites
from tests.e2e.harness.operator_key import operator_key
from tests.e2e.harness.records import NamespaceRecords, wait_until_operator_records
from tests.e2e.harness.stack import (
    RELEASE_NAME,
    REPO_ROOT,
    RunningStack,
    Stack,
    chart_install_args,
    helm,
)

# The running stack, so a failed test's report can show what the operator and API logged.
_running: list[RunningStack] = []
# How long each part of the run took to come up (and go), shown at the end of the run.
_timings: list[tuple[str, float]] = []


@contextlib.contextmanager
def _timed(what: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    _timings.append((what, time.monotonic() - started))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _timings:
        terminalreporter.write_sep("=", "e2e timings")
        for what, seconds in _timings:
            terminalreporter.write_line(f"{seconds:7.1f}s  {what}")


def pytest_configure(config: pytest.Config) -> None:
    # A terminated run (CI timeout, kill) should tear the cluster down like Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for stack in _running:
            for name, tail in stack.log_tails().items():
                report.sections.append((f"{name} (tail)", tail))
    return report


def _build_control_plane() -> Path:
    if bin_dir := os.environ.get("CHANGETRAIL_E2E_BIN"):
        return Path(bin_dir)
    started = time.monotonic()
    result = subprocess.run(
        [str(REPO_ROOT / "e2e" / "build.sh")], stdout=subprocess.PIPE, text=True, check=True
    )
    print(f"control plane binaries ready in {time.monotonic() - started:.1f}s")
    return Path(result.stdout.strip())


def _archive_image_name(archive: Path) -> str:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        assert member is not None, archive
        (manifest,) = json.load(member)["manifests"]
    return str(manifest["annotations"]["org.opencontainers.image.ref.name"])


def _node_setup() -> tuple[NodeParts, list[Path], str] | str:
    """What the real node needs (its parts, the image archives, the helper image), or why
    it cannot run here."""
    parts, images = os.environ.get("CHANGETRAIL_E2E_NODE"), os.environ.get("CHANGETRAIL_E2E_IMAGES")
    if not parts or not images:
        return (
            "CHANGETRAIL_E2E_NODE and CHANGETRAIL_E2E_IMAGES are unset: e2e/run.sh builds the "
            "node's parts and the images when it runs as root"
        )
    if missing := missing_prerequisites():
        return f"this machine lacks {', '.join(missing)}"
    archives = sorted(Path(images).glob("*.oci.tar"))
    base = Path(images) / "base.oci.tar"
    if not base.exists():
        return f"no base image archive {base}"
    return NodeParts(Path(parts)), archives, _archive_image_name(base)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("e2e")
    external = os.environ.get("CHANGETRAIL_E2E_KUBECONFIG")
    if external:
        kubectl = Kubectl(os.environ.get("KUBECTL", "kubectl"), Path(external))
        yield Cluster(
            kubectl,
            Path(external),
            None,
            workdir,
            node_unavailable="the suite runs against CHANGETRAIL_E2E_KUBECONFIG's cluster",
        )
        return
    bin_dir = _build_control_plane()
    setup = _node_setup()
    if isinstance(setup, str):
        print(f"no real node: {setup}")
    network = None if isinstance(setup, str) else NodeNetwork.create()
    control_plane = ControlPlane(
        bin_dir=bin_dir,
        workdir=workdir,
        address=network.host_address if network is not None else LOOPBACK,
    )
    node: RealNode | None = None
    try:
        with _timed("control plane up"):
            control_plane.start()
        kubectl = Kubectl(bin_dir / "kubectl", control_plane.admin_kubeconfig)
        kubectl.create(fake_node_manifest(tainted=network is not None))
        print(f"control plane up (logs in {workdir / 'logs'})")
        if network is not None and not isinstance(setup, str):
            parts, archives, helper_image = setup
            node = RealNode(
                parts=parts,
                network=network,
                control_plane=control_plane,
                kubectl=kubectl,
                images=archives,
                helper_image=helper_image,
                workdir=workdir,
            )
            with _timed(f"real node {node.name} Ready (images imported, DNS and storage up)"):
                node.start()
        yield Cluster(
            kubectl,
            control_plane.admin_kubeconfig,
            control_plane,
            workdir,
            node=node,
            node_unavailable=setup if isinstance(setup, str) else None,
        )
    finally:
        if node is not None:
            with _timed("real node stopped and cleaned up"):
                node.stop()
        with _timed("control plane stopped"):
            control_plane.stop()
        if network is not None:
            network.delete()


@pytest.fixture(scope="session")
def real_node(cluster: Cluster) -> RealNode:
    """The suite's real node; its scenarios fail under CI when it cannot run, and are
    skipped (saying why) elsewhere."""
    if cluster.node is None:
        reason = f"no real node: {cluster.node_unavailable}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return cluster.node


@pytest.fixture(scope="session")
def api_key() -> str:
    return "ak_live_e2e" + os.urandom(12).hex()


@pytest.fixture(scope="session")
def chart_args(cluster: Cluster, api_key: str) -> list[str]:
    """The `helm install` arguments of the suite's release."""
    return chart_install_args(api_key, pods=cluster.node is not None)


@pytest.fixture(scope="session")
def chart(cluster: Cluster, chart_args: list[str]) -> str:
    """The chart installed with helm; returns the release name."""
    # upgrade --install: a kept kind cluster may hold the release from an earlier run.
    with _timed("chart installed (server-side dry run, then helm install)"):
        helm(cluster.admin_kubeconfig, "upgrade", "--install", *chart_args, "--dry-run=server")
        helm(cluster.admin_kubeconfig, "upgrade", "--install", *chart_args)
    return chart_args[0]


def _token_kubeconfig(cluster: Cluster) -> Path:
    """A kubeconfig with a short-lived token of the chart's operator ServiceAccount: the
    identity the operator pod has in the cluster."""
    token = cluster.kubectl.run(
        "-n", OPERATOR_NAMESPACE, "create", "token", OPERATOR_SERVICE_ACCOUNT, "--duration=4h"
    ).strip()
    server = cluster.kubectl.run(
        "config", "view", "--minify", "-o=jsonpath={.clusters[0].cluster.server}"
    )
    if cluster.control_plane is not None:
        ca_file = cluster.control_plane.ca_cert
    else:
        ca_data = cluster.kubectl.run(
            "config", "view", "--minify", "--raw",
            "-o=jsonpath={.clusters[0].cluster.certificate-authority-data}",
        )  # fmt: skip
        ca_file = cluster.workdir / "external-ca.crt"
        ca_file.write_bytes(base64.b64decode(ca_data))
    return write_kubeconfig(
        cluster.workdir / "operator-token.kubeconfig", server, ca_file, "operator", token
    )


@pytest.fixture(scope="session")
def operator_kubeconfig(cluster: Cluster, chart: str) -> Path:
    """Credentials with the operator's identity and nothing more."""
    del chart  # the ServiceAccount and its RBAC come from the chart
    if cluster.control_plane is not None and cluster.node is None:
        # The static token the API server maps to the ServiceAccount.
        return cluster.control_plane.operator_kubeconfig
    return _token_kubeconfig(cluster)


@contextlib.contextmanager
def _local_stack(
    cluster: Cluster, operator_kubeconfig: Path, api_key: str
) -> Iterator[RunningStack]:
    with throwaway_database_url() as database_url:
        stack = Stack(
            workdir=cluster.workdir,
            database_url=database_url,
            operator_kubeconfig=operator_kubeconfig,
            api_key=api_key,
            # The key the chart generated for its operator, as its pod would be given it.
            operator_api_key=operator_key(cluster.kubectl),
        )
        _running.append(stack)
        try:
            stack.start()
            yield stack
        finally:
            _running.remove(stack)
            stack.stop()


@contextlib.contextmanager
def _chart_pods(cluster: Cluster, node: RealNode, api_key: str) -> Iterator[RunningStack]:
    pods = ChartPods(
        kubectl=cluster.kubectl,
        node=node,
        api_key=api_key,
        log_dir=cluster.workdir / "logs",
        release=RELEASE_NAME,
        namespace=OPERATOR_NAMESPACE,
    )
    _running.append(pods)
    try:
        with _timed("the chart's API and operator pods ready"):
            pods.start()
        yield pods
    finally:
        _running.remove(pods)
        pods.stop()


@pytest.fixture(scope="session")
def stack(
    cluster: Cluster, chart: str, api_key: str, operator_kubeconfig: Path
) -> Iterator[RunningStack]:
    """The API and operator the scenarios drive: the chart's pods on the real node, or
    local processes."""
    del chart  # installed first: the operator's identity and permissions come from it
    running = (
        _chart_pods(cluster, cluster.node, api_key)
        if cluster.node is not None
        else _local_stack(cluster, operator_kubeconfig, api_key)
    )
    with running as started:
        try:
            wait_until_operator_records(started.changes, cluster.kubectl)
        except RecordsNotReachedError as error:
            tails = "\n".join(f"{k}:\n{v}" for k, v in started.log_tails().items())
            raise RecordsNotReachedError(
                f"the operator records nothing: {error}\n{tails}"
            ) from error
        yield started


@pytest.fixture(scope="session")
def chart_pods(real_node: RealNode, stack: RunningStack) -> ChartPods:
    """The chart's pods, for the scenarios that only make sense with them."""
    del real_node
    assert isinstance(stack, ChartPods)
    return stack


@pytest.fixture(scope="session")
def changes(stack: RunningStack) -> ChangesApi:
    return stack.changes


@pytest.fixture(scope="session")
def kubectl(cluster: Cluster) -> Kubectl:
    return cluster.kubectl


@pytest.fixture
def namespace(
    request: pytest.FixtureRequest, kubectl: Kubectl, cluster: Cluster, stack: RunningStack
) -> Iterator[str]:
    """A namespace of the test's own, so its records can be told apart by tag."""
    del stack
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))[:40]
    name = f"{stem.strip('-')}-{os.urandom(3).hex()}"
    cluster.create_workload_namespace(name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false")


@pytest.fixture
def records(changes: ChangesApi, kubectl: Kubectl, namespace: str) -> NamespaceRecords:
    found = NamespaceRecords(changes, kubectl, namespace)
    found.create_sentinel()
    return found
