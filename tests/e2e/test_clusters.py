"""One API for many clusters, and Secrets that never leave the cluster but as keyed hashes.

A second, operator-only release (``api.enabled=false``) reports to the suite's API as another
cluster, with a key of its own that has only the operator's scopes, and watches Secrets. Both
operators record the same namespace, each record tagged with its cluster. With the suite's
real node that operator is the release's own pod; otherwise a local process with the release's
ServiceAccount and settings.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness.changes_api import ChangesApi, Record
from tests.e2e.harness.cluster import Cluster
from tests.e2e.harness.controlplane import OPERATOR_NAMESPACE, write_kubeconfig
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.manifests import Manifest, configmap, deployment
from tests.e2e.harness.processes import ManagedProcess
from tests.e2e.harness.records import NamespaceRecords, is_sentinel, summaries
from tests.e2e.harness.stack import (
    CHART_DIR,
    DOCS_IMAGE_PREFIX,
    RELEASE_NAME,
    Stack,
    changetrail_executable,
    helm,
)

REMOTE = "e2e-remote"  # the second cluster's name, and its release's
REMOTE_NAMESPACE = "ct-remote"
OPERATOR_SCOPES = ["changes:read", "changes:write", "services:read", "services:write", "operator"]
# Values that must never reach the API, its logs or the operator's disk state.
PASSWORD = "e2e-" + secrets.token_urlsafe(18)
ROTATED = "e2e-" + secrets.token_urlsafe(18)
TOKEN = "e2e-" + secrets.token_urlsafe(18)


@dataclass
class RemoteCluster:
    kubectl: Kubectl
    changes: ChangesApi
    namespace: str  # the scenario's namespace, the only one the remote operator watches
    logs: list[Path]  # what the remote operator logged (local process) ...
    pod_logs: bool  # ... or whether its logs are its pod's
    stack: object  # the suite's API and operator

    @property
    def tags(self) -> list[str]:
        return [f"namespace:{self.namespace}", f"cluster:{REMOTE}"]

    def records(self) -> list[Record]:
        return [r for r in self.changes.list_changes(tag=self.tags) if not is_sentinel(r)]

    def operator_log(self) -> str:
        if self.pod_logs:
            return self.kubectl.run(
                "-n", REMOTE_NAMESPACE, "logs", f"deployment/{REMOTE}-operator", check=False
            )
        return "".join(path.read_text(errors="replace") for path in self.logs if path.exists())


def _admin(changes: ChangesApi) -> httpx.Client:
    if changes.connection is not None:
        changes.connection.ensure()
    return httpx.Client(
        base_url=changes.base_url, headers={"Authorization": f"Bearer {changes.api_key}"}
    )


def _operator_key(changes: ChangesApi) -> str:
    """A key with the operator's scopes and nothing more, as the central API's admin makes it."""
    with _admin(changes) as client:
        response = client.post("/api/v1/api-keys", json={"name": REMOTE, "scopes": OPERATOR_SCOPES})
        response.raise_for_status()
        key = str(response.json()["data"]["key"])
        denied = client.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {key}"})
    assert denied.status_code == 403, "the operator's key is not an admin key"
    return key


def _install_args(api_url: str, namespace: str, pods: bool) -> list[str]:
    image = [f"--set=operator.image.repository={DOCS_IMAGE_PREFIX}changetrail-operator"]
    return [
        REMOTE, str(CHART_DIR), f"--namespace={REMOTE_NAMESPACE}", "--create-namespace",
        f"--set=fullnameOverride={REMOTE}", "--set=api.enabled=false",
        f"--set=operator.apiUrl={api_url}", f"--set=operator.apiKey.existingSecret={REMOTE}-key",
        f"--set=cluster.name={REMOTE}", "--set=cluster.environment=e2e",
        "--set=operator.watch.secrets=true", f"--set=operator.watchNamespaces={{{namespace}}}",
        *(image if pods else []),
    ]  # fmt: skip


def _local_operator(cluster: Cluster, stack: Stack, key: str, namespace: str) -> ManagedProcess:
    """The remote release's operator as a local process: its ServiceAccount, its settings."""
    token = cluster.kubectl.run(
        "-n", REMOTE_NAMESPACE, "create", "token", f"{REMOTE}-operator", "--duration=1h"
    ).strip()
    assert cluster.control_plane is not None
    kubeconfig = write_kubeconfig(
        cluster.workdir / f"{REMOTE}.kubeconfig",
        cluster.control_plane.server,
        cluster.control_plane.ca_cert,
        REMOTE,
        token,
    )
    hash_secret = cluster.kubectl.get("secret", f"{REMOTE}-operator-secret-hash", REMOTE_NAMESPACE)
    operator = ManagedProcess(
        f"changetrail-operator-{REMOTE}",
        [changetrail_executable(), "operator"],
        cluster.workdir / "logs",
        env={
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "CHANGETRAIL_API_URL": stack.api_url,
            "CHANGETRAIL_API_KEY": key,
            "CHANGETRAIL_CLUSTER_NAME": REMOTE,
            "CHANGETRAIL_ENVIRONMENT": "e2e",
            "CHANGETRAIL_WATCH_NAMESPACES": namespace,
            "CHANGETRAIL_WATCH_SECRETS": "true",
            "CHANGETRAIL_SECRET_HASH_KEY": base64.b64decode(
                hash_secret["data"]["hash-key"]
            ).decode(),
            "CHANGETRAIL_OPERATOR_HEALTH_PORT": "0",
            "CHANGETRAIL_OPERATOR_METRICS_PORT": "0",
        },
        cwd=cluster.workdir,
    )
    operator.start()
    return operator


@pytest.fixture
def remote(
    cluster: Cluster, stack: object, changes: ChangesApi, kubectl: Kubectl, namespace: str
) -> Iterator[RemoteCluster]:
    key = _operator_key(changes)
    kubectl.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": REMOTE_NAMESPACE}})
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{REMOTE}-key"},
            "stringData": {"api-key": key},
        },
        namespace=REMOTE_NAMESPACE,
    )
    pods = cluster.node is not None
    api_url = (
        f"http://{RELEASE_NAME}-api.{OPERATOR_NAMESPACE}.svc:80"
        if pods
        else getattr(stack, "api_url", "")
    )
    helm(cluster.admin_kubeconfig, "install", *_install_args(api_url, namespace, pods))
    process: ManagedProcess | None = None
    try:
        if pods:
            kubectl.rollout_status(f"{REMOTE}-operator", REMOTE_NAMESPACE, timeout=240)
        else:
            assert isinstance(stack, Stack)
            process = _local_operator(cluster, stack, key, namespace)
        yield RemoteCluster(
            kubectl,
            changes,
            namespace,
            [process.log_path] if process else [],
            pod_logs=pods,
            stack=stack,
        )
    finally:
        if process is not None:
            process.stop()
        helm(cluster.admin_kubeconfig, "uninstall", REMOTE, f"--namespace={REMOTE_NAMESPACE}")
        kubectl.run("delete", "namespace", REMOTE_NAMESPACE, "--wait=false")


def _listening(remote: RemoteCluster, kubectl: Kubectl) -> None:
    """Create probe ConfigMaps until the remote operator records one: it is watching."""
    for attempt in range(30):
        probe = f"remote-probe-{attempt}"
        kubectl.apply(configmap(probe, {"k": "v"}), namespace=remote.namespace)

        def recorded(found: list[Record], probe: str = probe) -> bool:
            return any(f"/{probe} " in str(r["summary"]) for r in found)

        try:
            remote.changes.wait_for(recorded, timeout=5, tag=remote.tags)
            return
        except AssertionError:
            continue
    raise AssertionError(f"the remote operator records nothing:\n{remote.operator_log()[-3000:]}")


def _secret(values: dict[str, str]) -> Manifest:
    # As people write them: stringData, applied, so kubectl keeps every value in plain text
    # in its last-applied-configuration annotation.
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": values}


def _forms(value: str) -> list[str]:
    raw = value.encode()
    digests = [
        hashlib.sha256(raw).hexdigest(),
        hashlib.sha1(raw).hexdigest(),  # noqa: S324 - looking for plain hashes, not making one
        hashlib.md5(raw).hexdigest(),  # noqa: S324
    ]
    return [value, base64.b64encode(raw).decode(), *digests, *(d[:16] for d in digests)]


def _states_on_disk() -> bytes:
    """Every operator's unlinked state cache, read through the descriptors that keep it."""
    found = b""
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if "changetrail-states-" in os.readlink(fd):
                found += fd.read_bytes()
        except OSError:
            continue
    return found


def test_two_clusters_one_api_and_secrets_only_as_keyed_hashes(
    remote: RemoteCluster, records: NamespaceRecords, kubectl: Kubectl, changes: ChangesApi
) -> None:
    _listening(remote, kubectl)
    probes = len(remote.records())

    def recorded_remotely(count: int) -> list[Record]:
        return changes.wait_for(
            lambda found: len([r for r in found if not is_sentinel(r)]) >= probes + count,
            timeout=60,
            tag=remote.tags,
        )

    kubectl.apply(_secret({"USER": "app", "PASSWORD": PASSWORD}), namespace=remote.namespace)
    recorded_remotely(1)
    kubectl.apply(_secret({"PASSWORD": ROTATED, "TOKEN": TOKEN}), namespace=remote.namespace)
    recorded_remotely(2)
    kubectl.apply(deployment("api", tag="1.0.0"), namespace=remote.namespace)
    recorded_remotely(3)
    records.settled()  # the suite's operator has caught up too

    ns = remote.namespace
    there = remote.records()[probes:]
    assert summaries(there) == [
        f"Create Secret {ns}/db (2 keys)",
        # kubectl apply leaves USER: it was never in the applied data, only in stringData.
        f"Secret {ns}/db: 2 keys changed (PASSWORD, TOKEN)",
        f"Create Deployment {ns}/api (api:1.0.0)",
    ]
    assert all(r["details"]["kubernetes"]["cluster"] == REMOTE for r in there)
    # The suite's own operator records the Deployment as its cluster's, and no Secret.
    here = [
        r
        for r in changes.list_changes(tag=[f"namespace:{ns}", "cluster:e2e"])
        if not is_sentinel(r) and "remote-probe" not in r["summary"]
    ]
    assert summaries(here) == [f"Create Deployment {ns}/api (api:1.0.0)"]
    diff = {entry["key"]: entry for entry in there[1]["details"]["diff"]}
    assert {k: e["change"] for k, e in diff.items()} == {"PASSWORD": "changed", "TOKEN": "added"}
    assert (diff["PASSWORD"]["old_bytes"], diff["PASSWORD"]["new_bytes"]) == (
        len(PASSWORD),
        len(ROTATED),
    )

    # No value, nor a plain hash of one: not in the API, its logs, the operators' logs or
    # their state, in the API's store or on disk.
    with _admin(remote.changes) as client:
        stored = client.get(
            "/api/v1/operator/objects", params={"cluster": REMOTE, "kind": "Secret"}
        ).json()
    assert stored["data"], "the Secret's state is stored"
    everything = "\n".join(
        [
            json.dumps(remote.changes.list_changes(tag=f"namespace:{ns}")),
            json.dumps(stored),
            remote.operator_log(),
            _api_log(kubectl, remote.stack),
        ]
    )
    disk = _states_on_disk()
    assert disk, "the operators' state caches are found"
    for value in (PASSWORD, ROTATED, TOKEN):
        for form in _forms(value):
            assert form not in everything
            assert form.encode() not in disk


def _api_log(kubectl: Kubectl, stack: object) -> str:
    if isinstance(stack, Stack):
        assert stack.api is not None
        return stack.api.log_path.read_text(errors="replace")
    return kubectl.run(
        "-n", OPERATOR_NAMESPACE, "logs", f"deployment/{RELEASE_NAME}-api", "-c", "api",
        check=False,
    )  # fmt: skip
