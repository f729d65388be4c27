"""A real node for the e2e cluster: a kubelet with containerd and runc, kube-proxy, CoreDNS
and a local-path volume provisioner, so the chart's own pods run from the images built here.

Everything of the node lives in a network namespace of its own, joined to the host by one
veth pair (the host's end carries the address kube-apiserver listens on). The node's bridge,
its iptables rules, its pods' network namespaces and addresses never touch the host's
network; the node's network has no default route, so nothing in it reaches beyond the two
ends of that link.

The node's processes also share one private mount namespace, held open by a small holder
process. containerd's state, the pods' network namespace files, the CNI plugins' state and
the pod logs live on tmpfs mounts inside it, and every mount the kubelet and containerd make
(volumes, container root filesystems) is made there, so all of it disappears with the
processes, however the run ends. Inside it the kubelet also reads the values it wants for
the kernel settings it would otherwise change machine-wide (``vm.overcommit_memory``,
``kernel.panic``, ``kernel.panic_on_oops``), so the machine's own settings stay as they are.

Pods' cgroups live under a cgroup root named after the run, removed at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.harness import pki
from tests.e2e.harness.controlplane import REAL_NODE_NAME, ControlPlane
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.processes import START_LISTENERS, ManagedProcess

POD_SUBNET = "10.244.0.0/24"
CLUSTER_CIDR = "10.244.0.0/16"
CLUSTER_DNS = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
# The /30 linking host and node is 10.250.<index>.0/30, <index> picked per run.
LINK_PREFIX = "10.250"
START_TIMEOUT_SECONDS = 180.0
LOCAL_PATH_NAMESPACE = "local-path-storage"
LOCAL_PATH_SERVICE_ACCOUNT = "local-path-provisioner-service-account"
STORAGE_CLASS = "local-path"
# What the kubelet sets at start unless already so (its "kernel tunables"), and which of
# them differ on the machine is read at start.
KUBELET_KERNEL_SETTINGS = {
    "vm/overcommit_memory": "1",
    "vm/panic_on_oom": "0",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
}
# Host paths whose contents belong to the node: each gets an empty tmpfs in its mount namespace.
NODE_TMPFS = (
    "/run/containerd",
    "/run/netns",
    "/var/lib/cni",
    "/var/log/pods",
    "/var/log/containers",
)


# Each run with a real node notes here what it created, so that a later run cleans up after
# one that was killed outright (SIGKILL leaves no chance to tear down).
RUNS_DIR = Path("/run/changetrail-e2e")


class NodeUnavailableError(RuntimeError):
    """This machine cannot run the real node; the message says what is missing."""


@dataclass(frozen=True)
class NodeParts:
    """What e2e/build-node.sh built: binaries, CNI plugins and the pause image."""

    directory: Path

    @property
    def bin_dir(self) -> Path:
        return self.directory / "bin"

    @property
    def cni_dir(self) -> Path:
        return self.directory / "cni"

    @property
    def pause_archive(self) -> Path:
        return self.directory / "images" / "pause.tar"

    @property
    def pause_image(self) -> str:
        return (self.directory / "images" / "pause.name").read_text().strip()


def missing_prerequisites() -> list[str]:
    """What this machine lacks to run the real node (empty when it can)."""
    missing: list[str] = []
    if os.geteuid() != 0:
        missing.append("root (network namespaces, mounts and cgroups)")
    for tool in ("containerd", "ctr", "runc", "iptables", "ip", "nsenter", "unshare"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            missing.append(tool)
    if not any(cgroup_mounts()):
        missing.append("mounted cgroup hierarchies")
    return missing


def _tool(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _run(*argv: str | Path, check: bool = True, timeout: float = 60.0) -> str:
    result = subprocess.run(
        [str(arg) for arg in argv], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, argv))} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result.stdout


def cgroup_mounts() -> list[Path]:
    """Mount points of every cgroup hierarchy (v1 controllers and the v2 one of hybrid hosts)."""
    mounts: list[Path] = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, mount_point, fs_type, *_ = line.split()
        if fs_type in ("cgroup", "cgroup2"):
            mounts.append(Path(mount_point))
    return mounts


@dataclass
class NodeNetwork:
    """The node's network namespace and the veth pair linking it to the host."""

    index: int
    run_id: str

    @property
    def namespace(self) -> str:
        return f"ct-e2e-{self.run_id}"

    @property
    def host_interface(self) -> str:
        return f"cte{self.run_id}"

    @property
    def host_address(self) -> str:
        return f"{LINK_PREFIX}.{self.index}.1"

    @property
    def node_address(self) -> str:
        return f"{LINK_PREFIX}.{self.index}.2"

    @classmethod
    def create(cls) -> NodeNetwork:
        sweep_abandoned_runs()
        run_id = os.urandom(3).hex()
        used = _run("ip", "-4", "-o", "address", "show")
        index = next(
            candidate
            for candidate in [*range(os.getpid() % 200 + 1, 255), *range(1, 255)]
            if f" {LINK_PREFIX}.{candidate}." not in used
        )
        network = cls(index=index, run_id=run_id)
        _note(
            run_id,
            owner=os.getpid(),
            namespace=network.namespace,
            host_interface=network.host_interface,
            processes=[],
        )
        START_LISTENERS.append(network._record_process)
        try:
            network._create()
        except BaseException:
            network.delete()
            raise
        return network

    def _create(self) -> None:
        ns = self.namespace
        _run("ip", "netns", "add", ns)
        _run(
            "ip", "link", "add", self.host_interface, "type", "veth",
            "peer", "name", "eth0", "netns", ns,
        )  # fmt: skip
        _run("ip", "address", "add", f"{self.host_address}/30", "dev", self.host_interface)
        _run("ip", "link", "set", self.host_interface, "up")
        self.run_inside("ip", "link", "set", "lo", "up")
        self.run_inside("ip", "address", "add", f"{self.node_address}/30", "dev", "eth0")
        self.run_inside("ip", "link", "set", "eth0", "up")
        # Per-namespace settings: the node routes its pods' traffic, and bridged pod-to-pod
        # traffic passes iptables, where kube-proxy's rules are.
        self.run_inside("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        self.run_inside("sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1")

    def run_inside(self, *argv: str) -> str:
        return _run("ip", "netns", "exec", self.namespace, *argv)

    def _record_process(self, pid: int) -> None:
        path = RUNS_DIR / f"{self.run_id}.json"
        known = json.loads(path.read_text())
        _note(self.run_id, processes=[*known["processes"], [pid, _start_time(pid)]])

    def delete(self) -> None:
        with contextlib.suppress(ValueError):
            START_LISTENERS.remove(self._record_process)
        _delete_network(self.namespace, self.host_interface)
        (RUNS_DIR / f"{self.run_id}.json").unlink(missing_ok=True)


def _delete_network(namespace: str, host_interface: str) -> None:
    # Deleting the namespace deletes the veth pair with it (and the host end's address).
    _run("ip", "netns", "delete", namespace, check=False)
    _run("ip", "link", "delete", host_interface, check=False)


def _note(run_id: str, **facts: object) -> None:
    """Add ``facts`` to the run's record."""
    RUNS_DIR.mkdir(mode=0o700, exist_ok=True)
    path = RUNS_DIR / f"{run_id}.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**known, **facts}))


def _start_time(pid: int) -> str:
    """When the process started (in clock ticks since boot): with the PID, it names one
    process, even after the PID is reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_abandoned_runs() -> list[str]:
    """Tear down what runs whose process is gone left behind; returns their ids."""
    swept: list[str] = []
    for path in sorted(RUNS_DIR.glob("*.json")) if RUNS_DIR.exists() else []:
        run = json.loads(path.read_text())
        if _alive(int(run["owner"])):
            continue
        holder = run.get("holder")
        if holder is not None and _alive(int(holder)):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{holder}/comm").read_text().strip() == "sleep":
                    _kill_mount_namespace(int(holder))
        for pid, started in run.get("processes", []):
            if started and _start_time(pid) == started:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        if cgroup_root := run.get("cgroup_root"):
            _remove_cgroup_tree(cgroup_root)
        _delete_network(run["namespace"], run["host_interface"])
        path.unlink(missing_ok=True)
        swept.append(path.stem)
    return swept


def _yaml(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@dataclass
class RealNode:
    """The node's processes, started in order and stopped in reverse, with what they need."""

    parts: NodeParts
    network: NodeNetwork
    control_plane: ControlPlane
    kubectl: Kubectl
    # OCI archives imported into the node's containerd before anything runs.
    images: list[Path]
    # The image local-path-provisioner runs its helper pods from (it needs a shell).
    helper_image: str
    workdir: Path
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    _created_dirs: list[Path] = field(default_factory=list)

    name: str = REAL_NODE_NAME

    @property
    def root(self) -> Path:
        return self.workdir / "node"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def cgroup_root(self) -> str:
        return f"/changetrail-e2e-{self.network.run_id}"

    @property
    def local_path_dir(self) -> Path:
        return self.root / "local-path"

    def start(self) -> None:
        """Bring the node up and Ready; on failure, stop what was started and re-raise."""
        try:
            self._prepare()
            self._start_holder()
            self._start_containerd()
            self._import_images()
            self._start_kubelet()
            self._start_kube_proxy()
            self._start_coredns()
            self._start_local_path_provisioner()
        except BaseException:
            self.stop()
            raise

    # -- preparation ---------------------------------------------------------------------

    def _prepare(self) -> None:
        for directory in (self.root, self.log_dir, self.local_path_dir, self.root / "cni"):
            directory.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o711)
        self.local_path_dir.chmod(0o755)
        self._serving = pki.issue_serving_cert(
            self.control_plane.ca,
            self.root,
            "kubelet",
            ip_addresses=[self.network.node_address],
            dns_names=[self.name],
        )
        for mount_point in cgroup_mounts():
            directory = mount_point / self.cgroup_root.lstrip("/")
            directory.mkdir(exist_ok=True)
            if (mount_point / "cpuset.cpus").exists():
                for setting in ("cpuset.cpus", "cpuset.mems"):
                    (directory / setting).write_text((mount_point / setting).read_text())

    def _start_holder(self) -> None:
        """A process that owns the node's mount namespace (inside its network namespace)."""
        script = ["set -e"]
        for path in NODE_TMPFS:
            if not Path(path).exists():
                Path(path).mkdir(parents=True)
                self._created_dirs.append(Path(path))
            script.append(f"mount -t tmpfs -o mode=0755 changetrail-e2e-node {path}")
        settings_dir = self.root / "kernel-settings"
        settings_dir.mkdir(exist_ok=True)
        for name, wanted in KUBELET_KERNEL_SETTINGS.items():
            current = Path("/proc/sys", name).read_text().strip()
            if current != wanted:
                shown = settings_dir / name.replace("/", ".")
                shown.write_text(wanted + "\n")
                script.append(f"mount --bind -o ro {shown} /proc/sys/{name}")
        script.append("exec sleep infinity")
        # Not `ip netns exec`, which mounts a fresh /sys without the cgroup hierarchies.
        holder = self._add(
            "node-namespaces",
            [
                _tool("nsenter"), f"--net=/run/netns/{self.network.namespace}", "--",
                _tool("unshare"), "--mount", "--propagation=slave", "--",
                "sh", "-c", "\n".join(script),
            ],
            enter=False,
        )  # fmt: skip
        _note(self.network.run_id, holder=holder.pid, cgroup_root=self.cgroup_root)
        holder.wait_until(
            lambda: self._holder_ready(holder), START_TIMEOUT_SECONDS, "the node's mounts"
        )

    def _holder_ready(self, holder: ManagedProcess) -> bool:
        pid = holder.pid
        if pid is None:
            return False
        try:
            mounts = Path(f"/proc/{pid}/mounts").read_text()
            command = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return False
        return command == "sleep" and " /var/log/containers " in mounts

    def _add(
        self, name: str, argv: list[str | Path], enter: bool = True, **env: str
    ) -> ManagedProcess:
        """Start a node process; ``enter`` puts it into the node's namespaces."""
        if enter:
            holder = self.processes["node-namespaces"]
            assert holder.pid is not None
            argv = [_tool("nsenter"), f"--target={holder.pid}", "--mount", "--net", "--", *argv]
        process = ManagedProcess(name, argv, self.log_dir, env={**os.environ, **env})
        self.processes[name] = process
        process.start()
        return process

    # -- containerd ----------------------------------------------------------------------

    def _start_containerd(self) -> None:
        base = self.root / "containerd"
        base.mkdir(exist_ok=True)
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        config = f"""\
version = 2
root = "{base / "root"}"
state = "/run/containerd"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "{self.containerd_socket}"

[ttrpc]
  address = "{self.containerd_socket}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{base / "opt"}"

[{cri}]
  sandbox_image = "{self.parts.pause_image}"
  # The node may not lower OOM scores below its own; ask for no more than it has.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  enable_selinux = false

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  BinaryName = "{_tool("runc")}"
  SystemdCgroup = false

[{cri}.cni]
  bin_dir = "{self.parts.cni_dir}"
  conf_dir = "{self.root / "cni"}"

[{cri}.registry]
  config_path = "{base / "certs.d"}"
"""
        (base / "config.toml").write_text(config)
        # A bridge for the pods, with addresses from one subnet; traffic leaving the pod
        # subnet (to the API server, to PostgreSQL on the host) is masqueraded as the node.
        (self.root / "cni" / "10-bridge.conflist").write_text(
            json.dumps(
                {
                    "cniVersion": "1.0.0",
                    "name": "changetrail-e2e",
                    "plugins": [
                        {
                            "type": "bridge",
                            "bridge": "cni0",
                            "isGateway": True,
                            "ipMasq": True,
                            "hairpinMode": True,
                            "ipam": {
                                "type": "host-local",
                                "ranges": [[{"subnet": POD_SUBNET}]],
                                "routes": [{"dst": "0.0.0.0/0"}],
                                "dataDir": str(self.root / "ipam"),
                            },
                        },
                    ],
                },
                indent=2,
            )
        )
        containerd = self._add(
            "containerd", [_tool("containerd"), f"--config={base / 'config.toml'}"]
        )
        containerd.wait_until(
            lambda: self._ctr("version", check=False) != "",
            START_TIMEOUT_SECONDS,
            "containerd's socket",
        )

    def _ctr(self, *args: str, check: bool = True, timeout: float = 300.0) -> str:
        return _run(
            _tool("ctr"), f"--address={self.containerd_socket}", "--namespace=k8s.io", *args,
            check=check, timeout=timeout,
        )  # fmt: skip

    def _import_images(self) -> None:
        for archive in [self.parts.pause_archive, *self.images]:
            self._ctr("images", "import", str(archive))

    def tag_image(self, source: str, target: str) -> None:
        """Give an imported image a second name (a new tag for an upgrade)."""
        self._ctr("images", "tag", "--force", source, target)

    def image_names(self) -> list[str]:
        return self._ctr("images", "list", "--quiet").split()

    # -- kubelet -------------------------------------------------------------------------

    def _start_kubelet(self) -> None:
        ca = self.control_plane.ca_cert
        config = _yaml(
            self.root / "kubelet.yaml",
            {
                "apiVersion": "kubelet.config.k8s.io/v1beta1",
                "kind": "KubeletConfiguration",
                "address": self.network.node_address,
                "port": 10250,
                "readOnlyPort": 0,
                "healthzBindAddress": "127.0.0.1",
                "healthzPort": 10248,
                "tlsCertFile": str(self._serving.cert),
                "tlsPrivateKeyFile": str(self._serving.key),
                "authentication": {
                    "anonymous": {"enabled": False},
                    "webhook": {"enabled": True},
                    "x509": {"clientCAFile": str(ca)},
                },
                "authorization": {"mode": "Webhook"},
                "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
                "cgroupDriver": "cgroupfs",
                "cgroupRoot": self.cgroup_root,
                "clusterDNS": [CLUSTER_DNS],
                "clusterDomain": CLUSTER_DOMAIN,
                # No host DNS settings leak into pods: they resolve through CoreDNS only.
                "resolvConf": "",
                # The machine allows no process to lower its OOM score.
                "oomScoreAdj": 0,
                "failSwapOn": False,
                "rotateCertificates": False,
                "serializeImagePulls": False,
                # A shared machine's disk and memory are not the node's to reclaim.
                "evictionHard": {
                    "memory.available": "100Mi",
                    "nodefs.available": "1%",
                    "nodefs.inodesFree": "1%",
                    "imagefs.available": "1%",
                },
                "imageGCHighThresholdPercent": 100,
                "imageGCLowThresholdPercent": 99,
            },
        )
        kubelet = self._add(
            "kubelet",
            [
                self.parts.bin_dir / "kubelet",
                f"--config={config}",
                f"--kubeconfig={self.control_plane.kubeconfig('kubelet')}",
                f"--root-dir={self.root / 'kubelet'}",
                f"--hostname-override={self.name}",
                f"--node-ip={self.network.node_address}",
                "--node-labels=type=real",
                "--v=1",
            ],
        )
        kubelet.wait_until(self._node_ready, START_TIMEOUT_SECONDS, f"Ready node {self.name}")

    def _node_ready(self) -> bool:
        raw = self.kubectl.run("get", "node", self.name, "-o", "json", check=False)
        if not raw:
            return False
        conditions = json.loads(raw).get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    # -- kube-proxy ----------------------------------------------------------------------

    def _start_kube_proxy(self) -> None:
        config = _yaml(
            self.root / "kube-proxy.yaml",
            {
                "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                "kind": "KubeProxyConfiguration",
                "clientConnection": {
                    "kubeconfig": str(self.control_plane.kubeconfig("kube-proxy"))
                },
                "mode": "iptables",
                "clusterCIDR": CLUSTER_CIDR,
                "hostnameOverride": self.name,
                "healthzBindAddress": f"{self.network.node_address}:10256",
                "metricsBindAddress": "127.0.0.1:10249",
                "oomScoreAdj": 0,
                # Connection tracking limits and timeouts are the machine's, not the node's.
                "conntrack": {
                    "maxPerCore": 0,
                    "min": 0,
                    "tcpEstablishedTimeout": "0s",
                    "tcpCloseWaitTimeout": "0s",
                },
                "iptables": {"localhostNodePorts": False},
            },
        )
        proxy = self._add(
            "kube-proxy", [self.parts.bin_dir / "kube-proxy", f"--config={config}", "--v=1"]
        )
        proxy.wait_until(
            lambda: _http_ok(f"http://{self.network.node_address}:10256/healthz"),
            START_TIMEOUT_SECONDS,
            "kube-proxy /healthz",
        )

    # -- CoreDNS -------------------------------------------------------------------------

    def _start_coredns(self) -> None:
        kubeconfig = self.control_plane.kubeconfig("coredns")
        corefile = self.root / "Corefile"
        corefile.write_text(
            f""".:53 {{
    errors
    health 127.0.0.1:8080
    ready {self.network.node_address}:8181
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig} e2e
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }}
    cache 30
    loadbalance
}}
"""
        )
        coredns = self._add("coredns", [self.parts.bin_dir / "coredns", "-conf", str(corefile)])
        # The cluster's DNS Service, whose endpoint is CoreDNS on the node's address.
        ports = [
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        ]
        self.kubectl.apply(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "kube-dns", "labels": {"k8s-app": "kube-dns"}},
                "spec": {"clusterIP": CLUSTER_DNS, "ports": ports},
            },
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": "kube-dns-node",
                    "labels": {
                        "kubernetes.io/service-name": "kube-dns",
                        "endpointslice.kubernetes.io/managed-by": "changetrail-e2e",
                    },
                },
                "addressType": "IPv4",
                "endpoints": [
                    {"addresses": [self.network.node_address], "conditions": {"ready": True}}
                ],
                "ports": ports,
            },
            namespace="kube-system",
        )
        coredns.wait_until(
            lambda: _http_ok(f"http://{self.network.node_address}:8181/ready"),
            START_TIMEOUT_SECONDS,
            "CoreDNS /ready",
        )

    # -- local-path-provisioner ----------------------------------------------------------

    def _start_local_path_provisioner(self) -> None:
        setup = 'set -eu\nmkdir -m 0777 -p "$VOL_DIR"\n'
        teardown = 'set -eu\nrm -rf "$VOL_DIR"\n'
        helper_pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "helper-pod"},
            "spec": {
                "priorityClassName": "system-node-critical",
                "containers": [
                    {"name": "helper-pod", "image": self.helper_image, "imagePullPolicy": "Never"}
                ],
            },
        }
        path_map = {
            "nodePathMap": [
                {"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": [str(self.local_path_dir)]}
            ]
        }
        ns = LOCAL_PATH_NAMESPACE
        self.kubectl.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.kubectl.apply(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": LOCAL_PATH_SERVICE_ACCOUNT},
            },
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "local-path-config"},
                "data": {
                    "config.json": json.dumps(path_map),
                    "setup": setup,
                    "teardown": teardown,
                    "helperPod.yaml": yaml.safe_dump(helper_pod),
                },
            },
            namespace=ns,
        )
        self.kubectl.apply(
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {
                    "name": STORAGE_CLASS,
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                "provisioner": "rancher.io/local-path",
                "volumeBindingMode": "WaitForFirstConsumer",
                "reclaimPolicy": "Delete",
            }
        )
        # It talks to the API server only, so it runs beside the control plane.
        self._add(
            "local-path-provisioner",
            [
                self.parts.bin_dir / "local-path-provisioner",
                "--debug",
                "start",
                f"--kubeconfig={self.control_plane.kubeconfig('local-path-provisioner')}",
                f"--namespace={ns}",
                "--configmap-name=local-path-config",
                f"--helper-image={self.helper_image}",
                f"--service-account-name={LOCAL_PATH_SERVICE_ACCOUNT}",
                "--provisioner-name=rancher.io/local-path",
            ],
            enter=False,
        )

    # -- inspection ----------------------------------------------------------------------

    def crictl(self, *args: str, check: bool = True) -> str:
        return _run(
            self.parts.bin_dir / "crictl", f"--runtime-endpoint=unix://{self.containerd_socket}",
            f"--image-endpoint=unix://{self.containerd_socket}", *args, check=check,
        )  # fmt: skip

    def container_pid(self, namespace: str, pod: str, container: str) -> int:
        """The host PID of a running container's main process."""
        ids = self.crictl(
            "ps", "--quiet", "--state=running",
            f"--label=io.kubernetes.pod.namespace={namespace}",
            f"--label=io.kubernetes.pod.name={pod}",
            f"--label=io.kubernetes.container.name={container}",
        ).split()  # fmt: skip
        if len(ids) != 1:
            raise RuntimeError(f"{namespace}/{pod}: {len(ids)} running {container} containers")
        info = json.loads(self.crictl("inspect", "--output=json", ids[0]))
        return int(info["info"]["pid"])

    def kill_container(self, namespace: str, pod: str, container: str) -> None:
        """SIGKILL a container's main process from the host, as a crash would end it."""
        os.kill(self.container_pid(namespace, pod, container), signal.SIGKILL)

    # -- teardown ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop everything; also what a failed start left behind."""
        for name in ("local-path-provisioner", "coredns", "kube-proxy", "kubelet"):
            if name in self.processes:
                self.processes[name].stop()
        if self.processes.get("containerd") is not None and self.processes["containerd"].running:
            # Stop and remove every pod sandbox, so containerd's shims exit with them.
            with contextlib.suppress(Exception):
                self.crictl("rmp", "--all", "--force", check=False)
        if "containerd" in self.processes:
            self.processes["containerd"].stop()
        holder = self.processes.get("node-namespaces")
        if holder is not None and holder.pid is not None:
            _kill_mount_namespace(holder.pid)
            holder.stop()
        _remove_cgroup_tree(self.cgroup_root)
        # Other runs may still mount over these (empty) directories in their namespaces.
        others = [p for p in RUNS_DIR.glob("*.json") if p.stem != self.network.run_id]
        if not others:
            for directory in reversed(self._created_dirs):
                with contextlib.suppress(OSError):
                    directory.rmdir()
        self._created_dirs.clear()
        # The mounts went with the mount namespace; what is left are plain files.
        for leftover in ("containerd", "kubelet", "ipam"):
            shutil.rmtree(self.root / leftover, ignore_errors=True)

    def log_tails(self) -> dict[str, str]:
        return {name: process.log_tail() for name, process in self.processes.items()}


def _kill_mount_namespace(holder: int) -> None:
    """SIGKILL whatever else runs in the holder's mount namespace (containerd's shims,
    containers), and wait for it to be gone."""
    try:
        namespace = os.readlink(f"/proc/{holder}/ns/mnt")
    except OSError:
        return
    deadline = time.monotonic() + 30
    while True:
        members = [pid for pid in _pids_in_mount_namespace(namespace) if pid != holder]
        if not members or time.monotonic() > deadline:
            return
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def _remove_cgroup_tree(cgroup_root: str) -> None:
    """Kill what is left in the pods' cgroups and remove them, deepest first."""
    for mount_point in cgroup_mounts():
        top = mount_point / cgroup_root.lstrip("/")
        if not top.exists():
            continue
        for directory in sorted(_directories(top), key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                for pid in (directory / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
            for _ in range(50):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)


def _directories(top: Path) -> Iterator[Path]:
    yield top
    for root, dirs, _ in os.walk(top):
        for name in dirs:
            yield Path(root) / name


def _pids_in_mount_namespace(namespace: str) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(entry / "ns" / "mnt") == namespace:
                found.append(int(entry.name))
    return found


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
