"""Deployments: rollouts, rollbacks, restarts and manual scaling (see ``workload``).

The deployment controller numbers each template's ReplicaSet in the Deployment's
``deployment.kubernetes.io/revision`` annotation; rollouts end by kubectl's rules, with
``ProgressDeadlineExceeded`` as the failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from changetrail_operator.kinds.workload import (
    HISTORY_LIMIT,
    EarlierTemplate,
    WorkloadKind,
    WorkloadState,
    next_history,
)
from changetrail_operator.resources import ApiResource
from changetrail_operator.rollouts import Progress, deployment_progress

REVISION = "deployment.kubernetes.io/revision"
# A Deployment's state is a workload's state without strategy (stored as it always was).
DeploymentState = WorkloadState

__all__ = [
    "HISTORY_LIMIT",
    "REVISION",
    "DeploymentKind",
    "DeploymentState",
    "EarlierTemplate",
    "deployment_state",
    "next_history",
]


class DeploymentKind(WorkloadKind):
    name = "Deployment"
    resource = ApiResource("apps", "v1", "deployments")
    revision_annotation = REVISION

    def progress(self, body: Mapping[str, Any]) -> Progress | None:
        return deployment_progress(body)


def deployment_state(body: Mapping[str, Any], ignore_paths: Iterable[str] = ()) -> WorkloadState:
    """The compact state of a Deployment, without the fields ``ignore_paths`` name."""
    return DeploymentKind().state_of(body, ignore_paths)
