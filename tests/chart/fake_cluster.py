"""Just enough of a Kubernetes API server for `helm template --dry-run=server`: discovery of
the kinds the chart renders, and GETs of the objects it holds (everything else is absent).

It lets the chart tests see what an upgrade renders, where `lookup` reads the Secrets an
earlier install left, without a cluster.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# group/version -> (kind, plural, namespaced) of every kind the chart renders.
RESOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [
        ("Secret", "secrets", True),
        ("ServiceAccount", "serviceaccounts", True),
        ("Service", "services", True),
        ("PersistentVolumeClaim", "persistentvolumeclaims", True),
        ("Pod", "pods", True),
        ("ConfigMap", "configmaps", True),
    ],
    "apps/v1": [("Deployment", "deployments", True)],
    "batch/v1": [("Job", "jobs", True)],
    "rbac.authorization.k8s.io/v1": [
        ("ClusterRole", "clusterroles", False),
        ("ClusterRoleBinding", "clusterrolebindings", False),
    ],
    "policy/v1": [("PodDisruptionBudget", "poddisruptionbudgets", True)],
    "autoscaling/v2": [("HorizontalPodAutoscaler", "horizontalpodautoscalers", True)],
    "networking.k8s.io/v1": [("Ingress", "ingresses", True)],
    "apiextensions.k8s.io/v1": [("CustomResourceDefinition", "customresourcedefinitions", False)],
}


def _groups() -> list[dict[str, Any]]:
    versions: dict[str, list[str]] = {}
    for group_version in RESOURCES:
        if "/" in group_version:
            group, _ = group_version.split("/")
            versions.setdefault(group, []).append(group_version)
    return [
        {
            "name": group,
            "versions": [{"groupVersion": gv, "version": gv.split("/")[1]} for gv in listed],
            "preferredVersion": {"groupVersion": listed[0], "version": listed[0].split("/")[1]},
        }
        for group, listed in versions.items()
    ]


def _resource_list(group_version: str) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "groupVersion": group_version,
        "resources": [
            {
                "name": plural,
                "singularName": kind.lower(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["get", "list"],
            }
            for kind, plural, namespaced in RESOURCES[group_version]
        ],
    }


def _not_found(path: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
            "message": f"{path} not found", "code": 404}  # fmt: skip


@dataclass
class FakeCluster:
    """Objects by API path (``/api/v1/namespaces/<ns>/secrets/<name>``)."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_secret(self, release: str, namespace: str, name: str, data: dict[str, str]) -> None:
        """A Secret as a Helm release left it (helm refuses to adopt one without its marks)."""
        self.objects[f"/api/v1/namespaces/{namespace}/secrets/{name}"] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "Helm"},
                "annotations": {
                    "meta.helm.sh/release-name": release,
                    "meta.helm.sh/release-namespace": namespace,
                },
            },
            "type": "Opaque",
            "data": data,
        }

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        if path == "/version":
            return 200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": _groups()}
        for prefix in ("/api/", "/apis/"):
            if path.startswith(prefix) and path[len(prefix) :] in RESOURCES:
                return 200, _resource_list(path[len(prefix) :])
        if path in self.objects:
            return 200, self.objects[path]
        return 404, _not_found(path)

    @contextmanager
    def serving(self, workdir: Path) -> Iterator[Path]:
        """Serve on a free loopback port; yields a kubeconfig that points at it."""
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = cluster.answer(self.path.split("?", 1)[0])
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        kubeconfig = workdir / "fake-cluster.kubeconfig"
        address = f"http://127.0.0.1:{server.server_address[1]}"
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": address}}],
                    "users": [{"name": "fake", "user": {"token": "fake"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                    "current-context": "fake",
                }
            )
        )
        try:
            yield kubeconfig
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
