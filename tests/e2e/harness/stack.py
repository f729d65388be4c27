"""The changetrail side of the e2e run: the chart installed with helm, and the API and the
operator the scenarios drive.

With the suite's real node, those are the chart's own pods (chart_pods.py). Without one
(and against kind) they are local processes: the operator then uses the operator
kubeconfig, whose token the API server maps to the chart's ServiceAccount, so what it may
read is what the chart's ClusterRole grants.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tests.e2e.harness.changes_api import ChangesApi
from tests.e2e.harness.controlplane import OPERATOR_NAMESPACE
from tests.e2e.harness.processes import ManagedProcess, free_port

REPO_ROOT = Path(__file__).resolve().parents[3]
CHART_DIR = REPO_ROOT / "charts" / "changetrail"
RELEASE_NAME = "changetrail"
CLUSTER_NAME = "e2e"
ENVIRONMENT = "e2e"
# Short, so HPA scenarios settle within seconds; long enough to coalesce a burst.
HPA_SETTLE_SECONDS = "5"
# Namespaces the operator must not record: the control plane's own, the chart's and the
# volume provisioner's.
IGNORED_NAMESPACES = (
    "kube-system",
    "kube-public",
    "kube-node-lease",
    OPERATOR_NAMESPACE,
    "local-path-storage",
)
# Where docs/install.md's example pushes the images; the real node has them imported.
DOCS_IMAGE_PREFIX = "registry.example.com/platform/"


class RunningStack(Protocol):
    """The API and operator under test, wherever they run, with handles to break them."""

    @property
    def changes(self) -> ChangesApi: ...

    def kill_operator(self) -> None: ...

    def start_operator(self) -> None: ...

    def stop_api(self) -> None: ...

    def start_api(self) -> None: ...

    def log_tails(self) -> dict[str, str]: ...

    def stop(self) -> None: ...


def changetrail_executable() -> Path:
    return Path(sys.executable).parent / "changetrail"


def helm_binary() -> str:
    """The pinned helm the chart is linted with (scripts/ensure-helm.sh prints its path)."""
    if helm := os.environ.get("HELM"):
        return helm
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "ensure-helm.sh")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def helm(kubeconfig: Path, *args: str) -> str:
    result = subprocess.run(
        [helm_binary(), f"--kubeconfig={kubeconfig}", *args],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"helm {' '.join(args)} failed: {result.stderr}\n{result.stdout}")
    return result.stdout


def chart_install_args(api_key: str, pods: bool = False) -> list[str]:
    """`helm install` arguments for the e2e release.

    With ``pods`` (the suite's real node), the release is installed as docs/install.md's
    SQLite example does it, images from ``registry.example.com/platform/`` at the chart's
    appVersion (imported into the node, never pulled), plus the settings the scenarios
    need. Otherwise the chart's pods are kwok's pretend pods (or kind's, with their own
    database), and what the chart contributes is the operator's identity and RBAC.
    """
    common = [
        RELEASE_NAME,
        str(CHART_DIR),
        f"--namespace={OPERATOR_NAMESPACE}",
        "--create-namespace",
        f"--set=cluster.name={CLUSTER_NAME}",
        f"--set=cluster.environment={ENVIRONMENT}",
        f"--set=bootstrap.apiKey={api_key}",
    ]
    if pods:
        return [
            *common,
            f"--set=api.image.repository={DOCS_IMAGE_PREFIX}changetrail-api",
            f"--set=operator.image.repository={DOCS_IMAGE_PREFIX}changetrail-operator",
            # The benchmark and the fault scenarios post in bursts from one key.
            "--set=api.rateLimitPerMinute=0",
            f"--set=operator.hpaSettleSeconds={HPA_SETTLE_SECONDS}",
            f"--set=operator.ignoreNamespaces={{{','.join(IGNORED_NAMESPACES)}}}",
        ]
    image: list[str] = []
    if tag := os.environ.get("CHANGETRAIL_E2E_IMAGE_TAG"):
        # A cluster with real kubelets (kind) runs the chart's pods from the two images built
        # locally by `make image` (changetrail-api and changetrail-operator, tagged alike).
        prefix = os.environ.get("CHANGETRAIL_E2E_IMAGE_PREFIX", "")
        for component in ("api", "operator"):
            image += [
                f"--set={component}.image.repository={prefix}changetrail-{component}",
                f"--set={component}.image.tag={tag}",
                f"--set={component}.image.pullPolicy=Never",
            ]
    return [
        *common,
        f"--set=fullnameOverride={RELEASE_NAME}",
        "--set=persistence.enabled=false",
        *image,
    ]


@dataclass
class Stack:
    """The API and the operator as local processes, with handles to break them."""

    workdir: Path
    database_url: str
    operator_kubeconfig: Path
    api_key: str = field(default_factory=lambda: f"ak_live_e2e{secrets.token_hex(16)}")
    # The operator's own key, as the chart gives it: the API creates it with the operator's
    # scopes only (CHANGETRAIL_OPERATOR_API_KEY); the operator never holds the admin key.
    operator_api_key: str = field(
        default_factory=lambda: f"ak_live_e2eoperator{secrets.token_hex(16)}"
    )
    api_port: int = field(default_factory=free_port)
    operator_env: dict[str, str] = field(default_factory=dict)
    operator_args: list[str] = field(default_factory=list)
    api: ManagedProcess | None = None
    operator: ManagedProcess | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def changes(self) -> ChangesApi:
        return ChangesApi(self.api_url, self.api_key)

    def start(self) -> None:
        log_dir = self.workdir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.api = ManagedProcess(
            "changetrail-api",
            [changetrail_executable(), "api", "--host", "127.0.0.1", "--port", str(self.api_port)],
            log_dir,
            env={
                **os.environ,
                "CHANGETRAIL_DATABASE_URL": self.database_url,
                "CHANGETRAIL_BOOTSTRAP_API_KEY": self.api_key,
                "CHANGETRAIL_OPERATOR_API_KEY": self.operator_api_key,
                # The benchmark and the fault scenarios post in bursts from one key.
                "CHANGETRAIL_RATE_LIMIT_PER_MINUTE": "0",
            },
            cwd=self.workdir,
        )
        self.operator = ManagedProcess(
            "changetrail-operator",
            [changetrail_executable(), "operator", *self.operator_args],
            log_dir,
            env={
                **os.environ,
                "KUBECONFIG": str(self.operator_kubeconfig),
                "CHANGETRAIL_API_URL": self.api_url,
                "CHANGETRAIL_API_KEY": self.operator_api_key,
                "CHANGETRAIL_CLUSTER_NAME": CLUSTER_NAME,
                "CHANGETRAIL_ENVIRONMENT": ENVIRONMENT,
                "CHANGETRAIL_WATCH_NAMESPACES": "",
                "CHANGETRAIL_IGNORE_NAMESPACES": ",".join(IGNORED_NAMESPACES),
                "CHANGETRAIL_HPA_SETTLE_SECONDS": HPA_SETTLE_SECONDS,
                # No liveness or metrics listeners: they would bind every interface, and
                # the suite waits for records, not for probes.
                "CHANGETRAIL_OPERATOR_HEALTH_PORT": "0",
                "CHANGETRAIL_OPERATOR_METRICS_PORT": "0",
                **self.operator_env,
            },
            cwd=self.workdir,
        )
        self.start_api()
        self.start_operator()

    def start_api(self) -> None:
        assert self.api is not None
        self.api.start()
        self.api.wait_until(self.changes.healthy, 90.0, "ready API (/readyz)")

    def stop_api(self) -> None:
        assert self.api is not None
        self.api.stop()

    def start_operator(self) -> None:
        assert self.operator is not None
        self.operator.start()

    def kill_operator(self) -> None:
        assert self.operator is not None
        self.operator.kill()

    def log_tails(self) -> dict[str, str]:
        return {
            f"{process.name} log": process.log_tail()
            for process in (self.operator, self.api)
            if process is not None
        }

    def stop(self) -> None:
        for process in (self.operator, self.api):
            if process is not None:
                process.stop()
