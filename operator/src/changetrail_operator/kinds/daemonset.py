"""DaemonSets: what Deployments get but scaling, which follows the nodes.

A DaemonSet keeps its templates as ControllerRevisions too, but names none of them in its own
object: a return to an earlier template is a rollback "to an earlier revision". ``OnDelete``
is said out loud as for StatefulSets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from changetrail_operator.bodies import as_dict
from changetrail_operator.kinds.workload import UpdateStrategy, WorkloadKind, update_strategy
from changetrail_operator.resources import ApiResource
from changetrail_operator.rollouts import Progress, daemonset_progress


class DaemonSetKind(WorkloadKind):
    name = "DaemonSet"
    resource = ApiResource("apps", "v1", "daemonsets")
    has_replicas = False

    def strategy_of(self, body: Mapping[str, Any]) -> UpdateStrategy | None:
        strategy = update_strategy(as_dict(body.get("spec")))
        # A DaemonSet has no partition; only its type matters here.
        return UpdateStrategy(strategy.type)

    def progress(self, body: Mapping[str, Any]) -> Progress | None:
        return daemonset_progress(body)
