"""The cluster a test run uses: its own control plane, or one it was pointed at."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness.controlplane import ControlPlane
from tests.e2e.harness.kube import Kubectl


@dataclass(frozen=True)
class Cluster:
    kubectl: Kubectl
    admin_kubeconfig: Path
    # None when the suite runs against a cluster it did not start (kind).
    control_plane: ControlPlane | None
    workdir: Path
