"""Fixtures of the e2e suite: one cluster, one chart install, one API and one operator
per run; a fresh namespace per test.

By default the suite builds (or takes from the cache) and starts its own control
plane. With ``CHANGETRAIL_E2E_KUBECONFIG`` it uses that cluster instead (how
``make kind-e2e`` runs the same tests against kind).
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.e2e.harness.changes_api import ChangesApi, RecordsNotReachedError
from tests.e2e.harness.cluster import Cluster
from tests.e2e.harness.controlplane import (
    OPERATOR_NAMESPACE,
    OPERATOR_SERVICE_ACCOUNT,
    ControlPlane,
    fake_node_manifest,
    write_kubeconfig,
)
from tests.e2e.harness.database import throwaway_database_url
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.records import NamespaceRecords, wait_until_operator_records
from tests.e2e.harness.stack import REPO_ROOT, Stack, chart_install_args, helm

# The running stack, so a failed test's report can show what the operator and API logged.
_running: list[Stack] = []


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
            for process in (stack.operator, stack.api):
                if process is not None:
                    report.sections.append((f"{process.name} log (tail)", process.log_tail()))
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


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("e2e")
    external = os.environ.get("CHANGETRAIL_E2E_KUBECONFIG")
    if external:
        kubectl = Kubectl(os.environ.get("KUBECTL", "kubectl"), Path(external))
        yield Cluster(kubectl, Path(external), None, workdir)
        return
    bin_dir = _build_control_plane()
    control_plane = ControlPlane(bin_dir=bin_dir, workdir=workdir)
    started = time.monotonic()
    control_plane.start()
    try:
        kubectl = Kubectl(bin_dir / "kubectl", control_plane.admin_kubeconfig)
        kubectl.create(fake_node_manifest())
        print(f"control plane up in {time.monotonic() - started:.1f}s (logs in {workdir / 'logs'})")
        yield Cluster(kubectl, control_plane.admin_kubeconfig, control_plane, workdir)
    finally:
        control_plane.stop()


@pytest.fixture(scope="session")
def api_key() -> str:
    return "ak_live_e2e" + os.urandom(12).hex()


@pytest.fixture(scope="session")
def chart(cluster: Cluster, api_key: str) -> str:
    """The chart installed with helm; returns the release name."""
    args = chart_install_args(api_key)
    # upgrade --install: a kept kind cluster may hold the release from an earlier run.
    helm(cluster.admin_kubeconfig, "upgrade", "--install", *args, "--dry-run=server")
    helm(cluster.admin_kubeconfig, "upgrade", "--install", *args)
    return args[0]


def _operator_kubeconfig(cluster: Cluster) -> Path:
    if cluster.control_plane is not None:
        return cluster.control_plane.operator_kubeconfig
    # Against another cluster, a short-lived token of the chart's ServiceAccount gives the
    # operator the same identity it has in the cluster.
    token = cluster.kubectl.run(
        "-n", OPERATOR_NAMESPACE, "create", "token", OPERATOR_SERVICE_ACCOUNT, "--duration=4h"
    ).strip()
    server = cluster.kubectl.run(
        "config", "view", "--minify", "-o=jsonpath={.clusters[0].cluster.server}"
    )
    ca_data = cluster.kubectl.run(
        "config", "view", "--minify", "--raw",
        "-o=jsonpath={.clusters[0].cluster.certificate-authority-data}",
    )  # fmt: skip
    ca_file = cluster.workdir / "external-ca.crt"
    ca_file.write_bytes(base64.b64decode(ca_data))
    return write_kubeconfig(
        cluster.workdir / "operator.kubeconfig", server, ca_file, "operator", token
    )


@pytest.fixture(scope="session")
def stack(cluster: Cluster, chart: str, api_key: str) -> Iterator[Stack]:
    del chart  # installed first: the operator's identity and permissions come from it
    with throwaway_database_url() as database_url:
        stack = Stack(
            workdir=cluster.workdir,
            database_url=database_url,
            operator_kubeconfig=_operator_kubeconfig(cluster),
            api_key=api_key,
        )
        _running.append(stack)
        try:
            stack.start()
            try:
                wait_until_operator_records(stack.changes, cluster.kubectl)
            except RecordsNotReachedError as error:
                assert stack.operator is not None
                raise RecordsNotReachedError(
                    f"the operator records nothing: {error}\n"
                    f"operator log tail:\n{stack.operator.log_tail()}"
                ) from error
            yield stack
        finally:
            _running.remove(stack)
            stack.stop()


@pytest.fixture(scope="session")
def changes(stack: Stack) -> ChangesApi:
    return stack.changes


@pytest.fixture(scope="session")
def kubectl(cluster: Cluster) -> Kubectl:
    return cluster.kubectl


@pytest.fixture
def namespace(request: pytest.FixtureRequest, kubectl: Kubectl, stack: Stack) -> Iterator[str]:
    """A namespace of the test's own, so its records can be told apart by tag."""
    del stack
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))[:40]
    name = f"{stem.strip('-')}-{os.urandom(3).hex()}"
    kubectl.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false")


@pytest.fixture
def records(changes: ChangesApi, kubectl: Kubectl, namespace: str) -> NamespaceRecords:
    found = NamespaceRecords(changes, kubectl, namespace)
    found.create_sentinel()
    return found
