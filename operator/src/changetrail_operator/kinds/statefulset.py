"""StatefulSets: what Deployments get, with their update strategy said out loud.

The StatefulSet controller keeps each template as a ControllerRevision and names the current
one in ``status.updateRevision``; a return to an earlier template is a rollback to that
revision. A ``partition`` holds pods below it on the old template and ``OnDelete`` replaces a
pod only when someone deletes it: a template change says so, and a lowered partition (the next
step of a staged rollout) is a rollout of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from changetrail_operator.bodies import as_dict, opt_str
from changetrail_operator.kinds.workload import UpdateStrategy, WorkloadKind, update_strategy
from changetrail_operator.resources import ApiResource
from changetrail_operator.rollouts import Progress, statefulset_progress


class StatefulSetKind(WorkloadKind):
    name = "StatefulSet"
    resource = ApiResource("apps", "v1", "statefulsets")

    def revision_of(self, body: Mapping[str, Any]) -> str | None:
        # The ControllerRevision of the current template: "<name>-<hash>", written by the
        # controller just after the template changes (the same lag a Deployment's
        # revision annotation has).
        return opt_str(as_dict(body.get("status")).get("updateRevision"))

    def strategy_of(self, body: Mapping[str, Any]) -> UpdateStrategy | None:
        return update_strategy(as_dict(body.get("spec")))

    def progress(self, body: Mapping[str, Any]) -> Progress | None:
        return statefulset_progress(body)
