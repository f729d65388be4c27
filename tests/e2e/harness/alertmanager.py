"""A real Prometheus Alertmanager (or an HA pair of them) in front of a local changetrail API.

Alertmanager is built from its Go module by ``e2e/build-alertmanager.sh`` (cached like the
control plane) and runs as plain processes on 127.0.0.1: the two replicas gossip over their
cluster ports and both notify the API's Alertmanager receiver. The suite plays Prometheus:
it posts alerts to every replica through Alertmanager's v2 API, each with its ``startsAt``,
as Prometheus does, and resolves them by posting them again with an ``endsAt``.

Nothing here needs the Kubernetes control plane.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.e2e.harness.processes import ManagedProcess, ProcessFailedError, free_port
from tests.e2e.harness.stack import REPO_ROOT, changetrail_executable

T = TypeVar("T")

# Short intervals so an episode plays out in seconds; the route groups like the corpus's.
GROUP_WAIT = "1s"
GROUP_INTERVAL = "2s"
REPEAT_INTERVAL = "6s"
# No wait between replicas: both deliver each notification, as a pair does when its gossip
# lags (the default 15s per position would hide the duplicates this suite wants to see).
PEER_TIMEOUT = "0s"
GOSSIP_INTERVAL = "50ms"


class AlertmanagerUnavailableError(RuntimeError):
    """Alertmanager could not be built or started: the suite fails, it never skips."""


def alertmanager_binary() -> Path:
    """``$CHANGETRAIL_E2E_ALERTMANAGER_BIN/alertmanager``, else built (or taken from the cache)."""
    bin_dir = os.environ.get("CHANGETRAIL_E2E_ALERTMANAGER_BIN")
    if not bin_dir:
        started = time.monotonic()
        # The build's progress goes to stderr, shown with the test's output.
        result = subprocess.run(
            [str(REPO_ROOT / "e2e" / "build-alertmanager.sh")],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise AlertmanagerUnavailableError(
                f"e2e/build-alertmanager.sh failed ({result.returncode}); see its output above"
            )
        bin_dir = result.stdout.strip()
        print(f"alertmanager binary ready in {time.monotonic() - started:.1f}s")
    binary = Path(bin_dir) / "alertmanager"
    if not os.access(binary, os.X_OK):
        raise AlertmanagerUnavailableError(f"no alertmanager binary at {binary}")
    return binary


def wait_until(
    probe: Callable[[], T | None], timeout: float, what: str, logs: Callable[[], str]
) -> T:
    """Poll ``probe`` until it returns something; on timeout, fail with what was logged."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout:.0f}s\n{logs()}")
        time.sleep(0.25)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Alert:
    """One alert as Prometheus sends it: labels, annotations and the time it began firing."""

    labels: dict[str, str]
    starts_at: datetime
    annotations: dict[str, str] = field(default_factory=dict)
    ends_at: datetime | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": rfc3339(self.starts_at),
            "generatorURL": "http://prometheus.e2e.test/graph",
        }
        if self.ends_at is not None:
            body["endsAt"] = rfc3339(self.ends_at)
        return body


@dataclass
class ChangetrailApi:
    """The API as a local process, its admin key, and the Alertmanager endpoint it serves."""

    workdir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    key: str = field(default_factory=lambda: f"ak_live_am{secrets.token_hex(16)}")
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    receiver_path: str = ""
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=10.0
        )

    def start(self) -> None:
        log_dir = self.workdir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess(
            "changetrail-api-alertmanager",
            [changetrail_executable(), "api", "--host", "127.0.0.1", "--port", str(self.port)],
            log_dir,
            env={
                **os.environ,
                "CHANGETRAIL_DATABASE_URL": self.database_url,
                "CHANGETRAIL_BOOTSTRAP_API_KEY": self.key,
                # An organisation of its own, should the database be shared with the stack.
                "CHANGETRAIL_BOOTSTRAP_ORG": f"alertmanager-e2e-{secrets.token_hex(4)}",
                "CHANGETRAIL_RATE_LIMIT_PER_MINUTE": "0",
                # What Alertmanager sent, in the log a failed test shows.
                "CHANGETRAIL_ACCESS_LOG": "true",
            },
            cwd=self.workdir,
        )
        self.process.start()
        self.process.wait_until(self._ready, 90.0, "ready API (/readyz)")

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.client() as client:
            response = client.post(path, json=body)
        if response.status_code >= 300:
            raise AssertionError(f"POST {path}: {response.status_code} {response.text}")
        data: dict[str, Any] = response.json()["data"]
        return data

    def create_receiver(self) -> str:
        """An Alertmanager endpoint with a secret; returns the URL Alertmanager posts to."""
        endpoint = self.post(
            "/api/v1/webhooks",
            {"name": "alertmanager-e2e", "kind": "alertmanager", "secret": self.secret},
        )
        self.receiver_path = str(endpoint["path"])
        return f"{self.url}{self.receiver_path}"

    def incidents(self) -> list[dict[str, Any]]:
        with self.client() as client:
            response = client.get("/api/v1/incidents", params={"limit": 100})
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def incidents_of(self, alertname: str) -> list[dict[str, Any]]:
        """The group's incidents, earliest start first."""
        found = [
            i
            for i in self.incidents()
            if (i["details"] or {}).get("alertmanager", {}).get("group_labels", {}).get("alertname")
            == alertname
        ]
        return sorted(found, key=lambda i: str(i["started_at"]))

    def incident(self, incident_id: str) -> dict[str, Any]:
        with self.client() as client:
            response = client.get(f"/api/v1/incidents/{incident_id}")
        response.raise_for_status()
        data: dict[str, Any] = response.json()["data"]
        return data

    def log(self) -> str:
        return "" if self.process is None else self.process.log_tail()


def config(receiver_url: str, secret: str) -> str:
    """alertmanager.yml: everything to the changetrail receiver, grouped by name and service."""
    document = {
        "route": {
            "receiver": "changetrail",
            "group_by": ["alertname", "service"],
            "group_wait": GROUP_WAIT,
            "group_interval": GROUP_INTERVAL,
            "repeat_interval": REPEAT_INTERVAL,
        },
        "receivers": [
            {
                "name": "changetrail",
                "webhook_configs": [
                    {
                        "url": receiver_url,
                        "send_resolved": True,
                        "http_config": {"authorization": {"credentials": secret}},
                    }
                ],
            }
        ],
    }
    # JSON is YAML: no YAML writer needed.
    return json.dumps(document, indent=2)


@dataclass
class Replica:
    """One Alertmanager process of the pair, with its own storage directory."""

    name: str
    binary: Path
    workdir: Path
    config_file: Path
    web_port: int = field(default_factory=free_port)
    cluster_port: int = field(default_factory=free_port)
    peers: list[int] = field(default_factory=list)
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def storage(self) -> Path:
        return self.workdir / f"{self.name}-data"

    def _argv(self) -> list[str | Path]:
        return [
            self.binary,
            f"--config.file={self.config_file}",
            f"--storage.path={self.storage}",
            f"--web.listen-address=127.0.0.1:{self.web_port}",
            f"--web.external-url=http://127.0.0.1:{self.web_port}",
            f"--cluster.listen-address=127.0.0.1:{self.cluster_port}",
            f"--cluster.advertise-address=127.0.0.1:{self.cluster_port}",
            *(f"--cluster.peer=127.0.0.1:{port}" for port in self.peers),
            f"--cluster.peer-timeout={PEER_TIMEOUT}",
            f"--cluster.gossip-interval={GOSSIP_INTERVAL}",
            "--cluster.pushpull-interval=2s",
            "--cluster.reconnect-interval=1s",
            "--log.level=debug",
        ]

    def start(self) -> None:
        self.storage.mkdir(parents=True, exist_ok=True)
        if self.process is None:
            self.process = ManagedProcess(
                f"alertmanager-{self.name}", self._argv(), self.workdir / "logs", cwd=self.workdir
            )
        self.process.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def restart(self, *, keep_storage: bool) -> None:
        """Stop and start again; without storage it forgets what it notified and silenced."""
        self.stop()
        if not keep_storage:
            shutil.rmtree(self.storage, ignore_errors=True)
        self.start()

    def status(self) -> dict[str, Any] | None:
        try:
            response = httpx.get(f"{self.url}/api/v2/status", timeout=2.0)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        status: dict[str, Any] = response.json()
        return status

    def post_alerts(self, alerts: Sequence[Alert]) -> None:
        response = httpx.post(
            f"{self.url}/api/v2/alerts", json=[a.body() for a in alerts], timeout=10.0
        )
        if response.status_code != 200:
            raise AssertionError(f"{self.name}: POST alerts {response.status_code} {response.text}")

    def webhook_notifications(self) -> int:
        """How many notifications this replica has sent to the webhook (its own metric)."""
        response = httpx.get(f"{self.url}/metrics", timeout=5.0)
        total = 0
        for line in response.text.splitlines():
            if (
                line.startswith("alertmanager_notifications_total{")
                and 'integration="webhook"' in line
            ):
                total += int(float(line.rsplit(" ", 1)[1]))
        return total

    def log(self) -> str:
        return "" if self.process is None else self.process.log_tail()


@dataclass
class AlertmanagerPair:
    """Two Alertmanagers gossiping on 127.0.0.1, both notifying one changetrail receiver."""

    binary: Path
    workdir: Path
    receiver_url: str
    secret: str
    replicas: list[Replica] = field(default_factory=list)

    def start(self) -> None:
        config_file = self.workdir / "alertmanager.yml"
        config_file.write_text(config(self.receiver_url, self.secret))
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        first = Replica("a", self.binary, self.workdir, config_file)
        second = Replica("b", self.binary, self.workdir, config_file)
        first.peers, second.peers = [second.cluster_port], [first.cluster_port]
        self.replicas = [first, second]
        for replica in self.replicas:
            replica.start()
        for replica in self.replicas:
            self.wait_ready(replica)

    def wait_ready(self, replica: Replica, timeout: float = 60.0) -> None:
        """Until the replica answers and sees both members of the cluster."""

        def clustered() -> bool | None:
            if replica.process is None or not replica.process.running:
                raise ProcessFailedError(f"alertmanager {replica.name} exited\n{self.logs()}")
            status = replica.status()
            cluster = (status or {}).get("cluster") or {}
            ready = cluster.get("status") == "ready" and len(cluster.get("peers") or []) == 2
            return True if ready else None

        wait_until(clustered, timeout, f"two-member cluster seen by {replica.name}", self.logs)

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()

    def fire(self, alerts: Iterable[Alert], replicas: Sequence[Replica] | None = None) -> None:
        """Post the alerts to every replica (or the ones named), as Prometheus does."""
        listed = list(alerts)
        for replica in replicas or self.replicas:
            replica.post_alerts(listed)

    def resolve(self, alerts: Sequence[Alert], at: datetime) -> None:
        """Post the alerts again with ``endsAt``, as Prometheus does once they stop firing."""
        for alert in alerts:
            alert.ends_at = at
        self.fire(alerts)

    def logs(self) -> str:
        return "\n".join(f"--- {r.name} log (tail)\n{r.log()}" for r in self.replicas)
