"""The cluster a test run uses: its own control plane, or one it was pointed at."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness.controlplane import FAKE_NODE_TAINT, ControlPlane
from tests.e2e.harness.kube import Kubectl
from tests.e2e.harness.node import RealNode


@dataclass(frozen=True)
class Cluster:
    kubectl: Kubectl
    admin_kubeconfig: Path
    # None when the suite runs against a cluster it did not start (kind).
    control_plane: ControlPlane | None
    workdir: Path
    # The suite's real node, when it runs one; otherwise why not.
    node: RealNode | None = None
    node_unavailable: str | None = None

    def create_workload_namespace(self, name: str) -> None:
        """A namespace for scenario workloads. With a real node, their pods go to the fake
        node (their images exist nowhere): the API server's PodNodeSelector and
        PodTolerationRestriction admission plugins read these annotations."""
        annotations: dict[str, str] = {}
        if self.node is not None:
            toleration = {"key": FAKE_NODE_TAINT["key"], "operator": "Exists"}
            annotations = {
                "scheduler.alpha.kubernetes.io/node-selector": "type=kwok",
                "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps(
                    [{**toleration, "effect": FAKE_NODE_TAINT["effect"]}]
                ),
            }
        self.kubectl.apply(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "annotations": annotations},
            }
        )
