"""The chart's own API and operator, running as pods on the real node from the images
built for the run: the stack the scenarios drive when the suite runs its real node.

The suite reads records the way docs/install.md tells users to reach the API: through
``kubectl port-forward`` to the chart's Service, restarted whenever the pod behind it
goes away. The operator reaches the API by the Service's cluster DNS name, and the
Kubernetes API through the ``kubernetes`` Service, as in any cluster.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.e2e.harness.changes_api import ChangesApi
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.node import RealNode
from tests.e2e.harness.processes import ManagedProcess, free_port, port_is_open

READY_TIMEOUT_SECONDS = 240.0
SERVICE_PORT = 80


@dataclass
class PortForward:
    """``kubectl port-forward service/<name>`` on a local port, restarted when it dies."""

    kubectl: Kubectl
    namespace: str
    service: str
    log_dir: Path
    local_port: int = field(default_factory=free_port)
    _process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.local_port}"

    def ensure(self) -> None:
        if self._process is not None and self._process.running:
            return
        self._process = ManagedProcess(
            f"port-forward-{self.namespace}-{self.service}",
            [
                self.kubectl.binary, f"--kubeconfig={self.kubectl.kubeconfig}",
                f"--namespace={self.namespace}", "port-forward", f"service/{self.service}",
                f"{self.local_port}:{SERVICE_PORT}", "--address=127.0.0.1",
            ],
            self.log_dir,
        )  # fmt: skip
        self._process.start()
        deadline = time.monotonic() + 10
        # It exits at once when no pod is ready; the caller's next request tries again.
        while self._process.running and time.monotonic() < deadline:
            if port_is_open(self.local_port):
                return
            time.sleep(0.1)

    def reset(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None


@dataclass
class ChartPods:
    """One release's API and operator pods, with handles to break them as a crash would."""

    kubectl: Kubectl
    node: RealNode
    api_key: str
    log_dir: Path
    release: str
    namespace: str
    _forward: PortForward | None = None
    _killed: dict[str, str] = field(default_factory=dict)

    @property
    def forward(self) -> PortForward:
        if self._forward is None:
            self._forward = PortForward(
                self.kubectl, self.namespace, f"{self.release}-api", self.log_dir
            )
        return self._forward

    @property
    def changes(self) -> ChangesApi:
        return ChangesApi(self.forward.url, self.api_key, connection=self.forward)

    def deployment(self, component: str) -> str:
        return f"{self.release}-{component}"

    def start(self) -> None:
        """Wait until both Deployments have rolled out and the API answers through the
        Service."""
        for component in ("api", "operator"):
            self.kubectl.rollout_status(
                self.deployment(component), self.namespace, timeout=READY_TIMEOUT_SECONDS
            )
        self._wait(self.changes.healthy, "the API's /readyz through the Service")

    def stop(self) -> None:
        self.forward.stop()

    def pods(self, component: str) -> list[dict[str, Any]]:
        """The component's pods that are not being deleted."""
        selector = (
            f"app.kubernetes.io/instance={self.release},app.kubernetes.io/component={component}"
        )
        listed = json.loads(
            self.kubectl.run("-n", self.namespace, "get", "pods", "-l", selector, "-o", "json")
        )
        return [p for p in listed["items"] if not p["metadata"].get("deletionTimestamp")]

    def running_pod(self, component: str) -> dict[str, Any]:
        (pod,) = self.pods(component)
        return pod

    def container_status(self, component: str) -> dict[str, Any]:
        statuses = self.running_pod(component)["status"].get("containerStatuses", [])
        (status,) = [s for s in statuses if s["name"] == component]
        return dict(status)

    def kill(self, component: str, pod: str | None = None) -> None:
        """SIGKILL the component's container (in ``pod``, or its one pod): no shutdown, like a
        crash or an OOM kill. The kubelet restarts it."""
        if pod is None:
            pod = self.running_pod(component)["metadata"]["name"]
            self._killed[component] = self.container_status(component).get("containerID", "")
        self.node.kill_container(self.namespace, pod, component)

    def wait_restarted(self, component: str) -> None:
        """Wait until a new container of the component runs and is ready."""

        def restarted() -> bool:
            try:
                status = self.container_status(component)
            except ValueError:
                return False
            return bool(
                status.get("ready") and status.get("containerID") != self._killed.get(component)
            )

        self._wait(restarted, f"a restarted, ready {component} container")

    # The scenarios' handles, named as for the local processes.
    def kill_operator(self) -> None:
        self.kill("operator")

    def start_operator(self) -> None:
        self.wait_restarted("operator")

    def kill_api(self) -> None:
        self.kill("api")

    def start_killed_api(self) -> None:
        self.wait_restarted("api")
        self._wait(self.changes.healthy, "the API's /readyz through the Service")

    def stop_api(self) -> None:
        """Scale the API to no pods, as an outage."""
        self.kubectl.run("-n", self.namespace, "scale", f"deployment/{self.deployment('api')}",
                         "--replicas=0")  # fmt: skip
        self._wait(lambda: not self.pods("api"), "no API pods")

    def start_api(self) -> None:
        self.kubectl.run("-n", self.namespace, "scale", f"deployment/{self.deployment('api')}",
                         "--replicas=1")  # fmt: skip
        self.kubectl.rollout_status(
            self.deployment("api"), self.namespace, timeout=READY_TIMEOUT_SECONDS
        )
        self._wait(self.changes.healthy, "the API's /readyz through the Service")

    def exec(self, component: str, *argv: str) -> str:
        return self.kubectl.run(
            "-n", self.namespace, "exec", f"deployment/{self.deployment(component)}",
            "-c", component, "--", *argv,
        )  # fmt: skip

    def running_for(self, component: str) -> float:
        """Seconds the component's current container has been running."""
        started = self.container_status(component)["state"]["running"]["startedAt"]
        since = datetime.strptime(started, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return (datetime.now(UTC) - since).total_seconds()

    def log_tails(self) -> dict[str, str]:
        tails: dict[str, str] = {}
        for component in ("api", "operator"):
            tails[f"{self.release} {component} pod"] = self.kubectl.run(
                "-n", self.namespace, "logs", f"deployment/{self.deployment(component)}",
                "-c", component, "--tail=60", check=False,
            )  # fmt: skip
        return tails

    def _wait(
        self, done: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT_SECONDS
    ) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {k}\n{v}" for k, v in self.log_tails().items())
                raise TimeoutError(f"no {what} after {timeout:.0f}s\n{tails}")
            time.sleep(0.5)
