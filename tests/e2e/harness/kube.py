"""kubectl, driven from Python: the suite changes the cluster the way people do."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class KubectlError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Kubectl:
    binary: Path | str
    kubeconfig: Path

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 120.0, check: bool = True
    ) -> str:
        argv = [str(self.binary), f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise KubectlError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result.stdout

    def apply(self, *manifests: Mapping[str, Any], namespace: str | None = None) -> None:
        document = {"apiVersion": "v1", "kind": "List", "items": list(manifests)}
        self.run(*_namespaced(namespace), "apply", "-f", "-", stdin=json.dumps(document))

    def create(self, *manifests: Mapping[str, Any], namespace: str | None = None) -> None:
        document = {"apiVersion": "v1", "kind": "List", "items": list(manifests)}
        self.run(*_namespaced(namespace), "create", "-f", "-", stdin=json.dumps(document))

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(
            self.run(*_namespaced(namespace), "get", kind, name, "-o", "json")
        )
        return found

    def merge_patch(
        self,
        kind: str,
        name: str,
        patch: Mapping[str, Any],
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> None:
        extra = [f"--subresource={subresource}"] if subresource else []
        self.run(
            *_namespaced(namespace), "patch", kind, name, "--type=merge",
            f"--patch={json.dumps(patch)}", *extra,
        )  # fmt: skip

    def rollout_status(self, workload: str, namespace: str, timeout: float = 120.0) -> None:
        """Wait for a rollout to finish; ``workload`` is ``kind/name``, or a Deployment's name.

        A rollout that does not finish fails with the namespace's workloads, pods and recent
        events attached, since "timed out waiting for the condition" alone says nothing about
        which part of the cluster stopped moving."""
        target = workload if "/" in workload else f"deployment/{workload}"
        try:
            self.run(
                "-n", namespace, "rollout", "status", target,
                f"--timeout={int(timeout)}s", timeout=timeout + 10,
            )  # fmt: skip
        except (KubectlError, subprocess.TimeoutExpired) as failed:
            raise KubectlError(f"{failed}\n{self.describe_stuck(namespace)}") from failed

    def describe_stuck(self, namespace: str) -> str:
        """What a person would look at when a rollout hangs, as one block of text."""
        views = [
            ("workloads and pods", ["get", "deployments,statefulsets,daemonsets,replicasets,pods",
                                    "-o", "wide", "--show-labels"]),
            ("pod states", ["get", "pods", "-o", _POD_STATES]),
            ("events", ["get", "events", "--sort-by=.lastTimestamp"]),
        ]  # fmt: skip
        parts = []
        for title, args in views:
            shown = self.run("-n", namespace, *args, check=False, timeout=30)
            parts.append(f"--- {title} ---\n{shown.strip()}")
        return "\n".join(parts)

    def delete(self, kind: str, name: str, namespace: str | None = None) -> None:
        self.run(*_namespaced(namespace), "delete", kind, name, "--wait=true")


# Per pod: its phase, readiness, whether it is being deleted and by which finalizers it is held.
_POD_STATES = (
    "custom-columns=NAME:.metadata.name,PHASE:.status.phase,"
    "READY:.status.conditions[?(@.type=='Ready')].status,"
    "DELETING:.metadata.deletionTimestamp,FINALIZERS:.metadata.finalizers,"
    "NODE:.spec.nodeName,OWNER:.metadata.ownerReferences[0].name"
)


def _namespaced(namespace: str | None) -> Sequence[str]:
    return ["-n", namespace] if namespace else []
