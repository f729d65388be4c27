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

    def rollout_status(self, deployment: str, namespace: str, timeout: float = 120.0) -> None:
        self.run(
            "-n", namespace, "rollout", "status", f"deployment/{deployment}",
            f"--timeout={int(timeout)}s", timeout=timeout + 10,
        )  # fmt: skip

    def delete(self, kind: str, name: str, namespace: str | None = None) -> None:
        self.run(*_namespaced(namespace), "delete", kind, name, "--wait=true")


def _namespaced(namespace: str | None) -> Sequence[str]:
    return ["-n", namespace] if namespace else []
