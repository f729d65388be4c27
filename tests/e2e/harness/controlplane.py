"""A Kubernetes control plane made of local processes: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok (which plays the kubelet of one
fake node, so Pods turn Running and Deployment rollouts complete).

Authentication is a static token file. Besides the admin token it holds one for
the operator that the API server maps to the chart's ServiceAccount identity, so
the operator runs with exactly the permissions the chart's RBAC grants it, and the
identities of a real node's kubelet (``system:node:<name>``, which the Node
authorizer checks) and kube-proxy (``system:kube-proxy``, bound by Kubernetes' own
default roles).
"""

from __future__ import annotations

import secrets
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.e2e.harness import pki
from tests.e2e.harness.processes import ManagedProcess, free_port, port_is_open

OPERATOR_NAMESPACE = "changetrail"
OPERATOR_SERVICE_ACCOUNT = "changetrail-operator"
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SERVICE_ACCOUNT}"
OPERATOR_GROUPS = (
    "system:serviceaccounts",
    f"system:serviceaccounts:{OPERATOR_NAMESPACE}",
    "system:authenticated",
)
FAKE_NODE_NAME = "kwok-node-0"
# The fake node's taint while a real node runs: only pods that tolerate it (the scenarios'
# workloads, whose images exist nowhere) land on it; the chart's pods go to the real node.
FAKE_NODE_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}
REAL_NODE_NAME = "e2e-node"
LOOPBACK = "127.0.0.1"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
START_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class StaticToken:
    token: str
    user: str
    groups: tuple[str, ...]

    def csv_line(self) -> str:
        # token,user,uid,"group1,group2": the API server's static token file format.
        return f'{self.token},{self.user},{self.user},"{",".join(self.groups)}"'


def _new_token(user: str, groups: tuple[str, ...]) -> StaticToken:
    return StaticToken(token=secrets.token_hex(24), user=user, groups=groups)


def write_kubeconfig(path: Path, server: str, ca_cert: Path, user: str, token: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "e2e", "cluster": {"server": server, "certificate-authority": str(ca_cert)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": user}}],
        "current-context": "e2e",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class ControlPlane:
    """The processes and files of one throwaway cluster under ``workdir``."""

    bin_dir: Path
    workdir: Path
    # Where kube-apiserver listens and what it advertises as the kubernetes Service's
    # endpoint: loopback, or the host's end of a real node's network link, so that the
    # node and its pods reach it too.
    address: str = LOOPBACK
    tokens: dict[str, StaticToken] = field(default_factory=dict)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    apiserver_port: int = 0

    @property
    def server(self) -> str:
        return f"https://{self.address}:{self.apiserver_port}"

    @property
    def ca(self) -> pki.CertificateFiles:
        return pki.CertificateFiles(
            cert=self.workdir / "pki" / "ca.crt", key=self.workdir / "pki" / "ca.key"
        )

    @property
    def ca_cert(self) -> Path:
        return self.ca.cert

    def kubeconfig(self, name: str) -> Path:
        """The kubeconfig of one of the static tokens (admin, operator, kubelet, ...)."""
        return self.workdir / f"{name}.kubeconfig"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    @property
    def operator_kubeconfig(self) -> Path:
        return self.workdir / "operator.kubeconfig"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    def start(self) -> None:
        """Bring every component up; on failure, stop what was started and re-raise."""
        try:
            self._prepare()
            self._start_etcd()
            self._start_apiserver()
            self._start_controllers()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        # Reverse start order: clients first, so none logs a storm of connection errors.
        for name in reversed(list(self.processes)):
            self.processes[name].stop()

    def restart_apiserver(self) -> None:
        apiserver = self.processes["kube-apiserver"]
        apiserver.stop()
        apiserver.start()
        self._wait_apiserver_ready(apiserver)

    def compact_etcd(self) -> int:
        """Compact etcd's history up to now; returns the revision compacted to.

        Watches resuming from an older resource version then expire with 410 Gone, as they do
        in long-running clusters after the API server's periodic compaction.
        """
        header = self._etcd_call("/v3/kv/range", {"key": "AA==", "limit": 1})["header"]
        revision = int(header["revision"])
        self._etcd_call("/v3/kv/compaction", {"revision": revision, "physical": True})
        return revision

    def _etcd_call(self, path: str, body: dict[str, object]) -> dict[str, Any]:
        # etcd's gRPC gateway speaks JSON on the client URL: no etcdctl needed.
        response = httpx.post(self._etcd_url + path, json=body, timeout=10)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def _prepare(self) -> None:
        pki_dir = self.workdir / "pki"
        for directory in (pki_dir, self.log_dir, self.workdir / "etcd", self.workdir / "certs"):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        ca = pki.make_ca(pki_dir, "changetrail-e2e-ca")
        self._serving = pki.issue_serving_cert(
            ca,
            pki_dir,
            "kube-apiserver",
            ip_addresses=sorted({LOOPBACK, self.address, "10.96.0.1"}),
            dns_names=["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
        )
        self._service_account_key = pki.make_signing_key(pki_dir, "service-account")
        # kube-apiserver's identity towards kubelets (exec, logs, port-forward).
        self._kubelet_client = pki.issue_client_cert(
            ca,
            pki_dir,
            "apiserver-kubelet-client",
            common_name="kube-apiserver-kubelet-client",
            organization="system:masters",
        )
        self.apiserver_port = free_port()
        # Control plane components get system:masters: this cluster tests the operator's
        # permissions, not the bootstrap roles of Kubernetes' own controllers.
        masters = ("system:masters", "system:authenticated")
        self.tokens = {
            "admin": _new_token("e2e-admin", masters),
            "kube-controller-manager": _new_token("system:kube-controller-manager", masters),
            "kube-scheduler": _new_token("system:kube-scheduler", masters),
            "kwok": _new_token("kwok-controller", masters),
            "operator": _new_token(OPERATOR_USER, OPERATOR_GROUPS),
            # A real node's components, when one runs (see node.py).
            "kubelet": _new_token(
                f"system:node:{REAL_NODE_NAME}", ("system:nodes", "system:authenticated")
            ),
            "kube-proxy": _new_token("system:kube-proxy", ("system:authenticated",)),
            "coredns": _new_token("coredns", masters),
            "local-path-provisioner": _new_token("local-path-provisioner", masters),
        }
        (pki_dir / "tokens.csv").write_text(
            "".join(token.csv_line() + "\n" for token in self.tokens.values())
        )
        for name, token in self.tokens.items():
            write_kubeconfig(
                self.workdir / f"{name}.kubeconfig", self.server, ca.cert, token.user, token.token
            )

    def _add(self, name: str, *args: str | Path) -> ManagedProcess:
        process = ManagedProcess(name, [self.bin_dir / name, *args], self.log_dir)
        self.processes[name] = process
        process.start()
        return process

    def _start_etcd(self) -> None:
        client_port, peer_port = free_port(), free_port()
        self._etcd_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        etcd = self._add(
            "etcd",
            "--name=e2e",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={self._etcd_url}",
            f"--advertise-client-urls={self._etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=e2e={peer_url}",
            # The data is thrown away after the run; fsync would only slow every write.
            "--unsafe-no-fsync",
            "--log-level=warn",
        )
        etcd.wait_until(lambda: port_is_open(client_port), START_TIMEOUT_SECONDS, "etcd port")

    def _start_apiserver(self) -> None:
        pki_dir = self.workdir / "pki"
        apiserver = self._add(
            "kube-apiserver",
            f"--etcd-servers={self._etcd_url}",
            f"--bind-address={self.address}",
            f"--advertise-address={self.address}",
            f"--secure-port={self.apiserver_port}",
            f"--cert-dir={self.workdir / 'certs'}",
            f"--tls-cert-file={self._serving.cert}",
            f"--tls-private-key-file={self._serving.key}",
            f"--client-ca-file={self.ca_cert}",
            "--authorization-mode=Node,RBAC",
            f"--token-auth-file={pki_dir / 'tokens.csv'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={self._service_account_key.cert}",
            f"--service-account-signing-key-file={self._service_account_key.key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--allow-privileged=true",
            # Namespaces can send their pods to the fake node (the scenarios' workloads).
            "--enable-admission-plugins=PodNodeSelector,PodTolerationRestriction",
            f"--kubelet-client-certificate={self._kubelet_client.cert}",
            f"--kubelet-client-key={self._kubelet_client.key}",
            f"--kubelet-certificate-authority={self.ca_cert}",
            "--kubelet-preferred-address-types=InternalIP",
            "--profiling=false",
            # A loopback address cannot be published as the kubernetes Service's endpoint;
            # a real node's pods reach the API server at the address it advertises.
            *(["--endpoint-reconciler-type=none"] if self.address == LOOPBACK else []),
        )
        self._wait_apiserver_ready(apiserver)

    def _wait_apiserver_ready(self, apiserver: ManagedProcess) -> None:
        apiserver.wait_until(self._apiserver_ready, START_TIMEOUT_SECONDS, "/readyz")

    def _apiserver_ready(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        request = urllib.request.Request(  # noqa: S310 - the URL is our own https server
            f"{self.server}/readyz",
            headers={"Authorization": f"Bearer {self.tokens['admin'].token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=2, context=context) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _start_controllers(self) -> None:
        self._add(
            "kube-controller-manager",
            f"--kubeconfig={self.workdir / 'kube-controller-manager.kubeconfig'}",
            "--secure-port=0",
            "--leader-elect=false",
            # The suite drives HPA status itself; a real autoscaler would fight it.
            "--controllers=*,-horizontal-pod-autoscaler-controller",
            # kwok renews its fake node's heartbeat from a process that shares two cores with
            # everything else; a renewal late by the default 50 s marked the node NotReady and
            # its pods not ready, which nothing marks ready again on a fake node, and a rollout
            # then never finished. No scenario here waits for a node to be found NotReady.
            "--node-monitor-grace-period=10m",
            f"--service-account-private-key-file={self._service_account_key.key}",
            f"--root-ca-file={self.ca_cert}",
            "--use-service-account-credentials=false",
        )
        self._add(
            "kube-scheduler",
            f"--kubeconfig={self.workdir / 'kube-scheduler.kubeconfig'}",
            "--secure-port=0",
            "--leader-elect=false",
        )
        self._add(
            "kwok",
            f"--kubeconfig={self.workdir / 'kwok.kubeconfig'}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--manage-nodes-with-label-selector=",
            "--cidr=10.0.0.1/16",
            "--node-ip=10.0.0.1",
            f"--server-address=127.0.0.1:{free_port()}",
        )


def fake_node_manifest(name: str = FAKE_NODE_NAME, tainted: bool = False) -> dict[str, object]:
    """A Node that kwok adopts (by its annotation) and keeps Ready; ``tainted`` keeps pods
    that do not tolerate it (the chart's) off it."""
    capacity = {"cpu": "256", "memory": "1Ti", "pods": "3000"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "spec": {"taints": [FAKE_NODE_TAINT] if tainted else []},
        "status": {"allocatable": capacity, "capacity": capacity},
    }
