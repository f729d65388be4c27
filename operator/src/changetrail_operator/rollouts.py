"""How a rollout is going, read from its workload's status the way the tools people trust do.

A rollout the operator recorded (a template change, a rollback, a restart) is followed until
its controller reports how it ended; then the change is completed with that outcome. The rules
are kubectl's ``rollout status`` for Deployments, StatefulSets and DaemonSets, and Argo
Rollouts' own phases for Rollouts, so that "succeeded" here means what it means in a terminal.
Every function here is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from changetrail_operator.bodies import as_dict, as_list, metadata, opt_int, opt_str, parse_time
from changetrail_operator.drafts import Outcome

# The deployment controller's reason on the Progressing condition once progressDeadlineSeconds
# passed without progress (kubectl's TimedOutReason).
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
# Argo Rollouts' reasons for a rollout it gave up on.
ROLLOUT_ABORTED = "RolloutAborted"


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a rollout stands: ``in_progress``, ``succeeded`` or ``failed``, and why."""

    outcome: Outcome
    reason: str | None = None
    at: datetime | None = None  # when the controller reported it, if it says

    @property
    def ended(self) -> bool:
        return self.outcome is not Outcome.IN_PROGRESS


IN_PROGRESS = Progress(Outcome.IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class PendingRollout:
    """A recorded rollout waiting for its outcome, kept with its object's state.

    Stored as ``{"change": ..., "generation": ..., "since": ...}``: the ``external_id`` of the
    recorded change, the generation it rolls out and when it started (an end is never earlier).
    """

    change: str
    generation: int | None
    since: str | None

    def to_json(self) -> dict[str, Any]:
        return {"change": self.change, "generation": self.generation, "since": self.since}

    @classmethod
    def from_json(cls, data: Any) -> PendingRollout | None:
        data = as_dict(data)
        change = opt_str(data.get("change"))
        if not change:
            return None
        return cls(change, opt_int(data.get("generation")), opt_str(data.get("since")))


def _status(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_dict(body.get("status"))


def _spec(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_dict(body.get("spec"))


def _generation(body: Mapping[str, Any]) -> int:
    return opt_int(metadata(body).get("generation")) or 0


def _observed(body: Mapping[str, Any]) -> bool:
    """Whether the controller has seen the current spec; until then the status is stale."""
    observed = _status(body).get("observedGeneration")
    if isinstance(observed, str):  # Argo Rollouts writes it as a string
        observed = int(observed) if observed.isdigit() else None
    return isinstance(observed, int) and observed > 0 and observed >= _generation(body)


def _int(status: Mapping[str, Any], key: str) -> int:
    return opt_int(status.get(key)) or 0


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for condition in as_list(status.get("conditions")):
        if as_dict(condition).get("type") == kind:
            return as_dict(condition)
    return {}


def status_written_at(body: Mapping[str, Any]) -> datetime | None:
    """When the object's status was last written: its newest status field-manager entry."""
    times = [
        str(as_dict(entry).get("time"))
        for entry in as_list(metadata(body).get("managedFields"))
        if as_dict(entry).get("subresource") == "status" and as_dict(entry).get("time")
    ]
    return parse_time(max(times)) if times else None


def deployment_progress(body: Mapping[str, Any]) -> Progress:
    """kubectl's rules: the deadline, then updated, old and available replicas."""
    if not _observed(body):
        return IN_PROGRESS
    status = _status(body)
    progressing = _condition(status, "Progressing")
    at = parse_time(progressing.get("lastUpdateTime")) or status_written_at(body)
    if progressing.get("reason") == PROGRESS_DEADLINE_EXCEEDED:
        return Progress(Outcome.FAILED, PROGRESS_DEADLINE_EXCEEDED, at)
    replicas = opt_int(_spec(body).get("replicas"))
    updated = _int(status, "updatedReplicas")
    if replicas is not None and updated < replicas:
        return IN_PROGRESS
    if _int(status, "replicas") > updated:
        return IN_PROGRESS  # old replicas are pending termination
    if _int(status, "availableReplicas") < updated:
        return IN_PROGRESS
    return Progress(Outcome.SUCCEEDED, None, at)


def statefulset_progress(body: Mapping[str, Any]) -> Progress:
    """kubectl's rules: ready replicas, then the pods at or above the partition updated.

    kubectl refuses ``OnDelete`` StatefulSets; here one succeeds once every pod has been
    replaced (deleted by someone) and is ready.
    """
    if not _observed(body):
        return IN_PROGRESS
    status = _status(body)
    at = status_written_at(body)
    replicas = opt_int(_spec(body).get("replicas"))
    wanted = 1 if replicas is None else replicas
    if _int(status, "readyReplicas") < wanted:
        return IN_PROGRESS
    strategy = as_dict(_spec(body).get("updateStrategy"))
    partition = 0
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        partition = opt_int(as_dict(strategy.get("rollingUpdate")).get("partition")) or 0
    if _int(status, "updatedReplicas") < wanted - partition:
        return IN_PROGRESS
    return Progress(Outcome.SUCCEEDED, None, at)


def daemonset_progress(body: Mapping[str, Any]) -> Progress:
    """kubectl's rules: every scheduled pod updated, then available (OnDelete alike)."""
    if not _observed(body):
        return IN_PROGRESS
    status = _status(body)
    desired = _int(status, "desiredNumberScheduled")
    if _int(status, "updatedNumberScheduled") < desired:
        return IN_PROGRESS
    if _int(status, "numberAvailable") < desired:
        return IN_PROGRESS
    return Progress(Outcome.SUCCEEDED, None, status_written_at(body))


def argo_rollout_progress(body: Mapping[str, Any]) -> Progress:
    """Argo Rollouts' phases: ``Healthy`` succeeded; ``Degraded`` or an abort failed.

    The controller writes ``status.phase`` and ``status.message``; an abort (``kubectl argo
    rollouts abort``) sets ``status.abort`` and the controller degrades the rollout.
    """
    # Until the controller has seen the current spec, the status (an abort included) is about
    # the previous revision.
    if not _observed(body):
        return IN_PROGRESS
    status = _status(body)
    at = status_written_at(body)
    if status.get("abort") is True:
        return Progress(Outcome.FAILED, _reason(status, ROLLOUT_ABORTED), at)
    for condition in as_list(status.get("conditions")):
        reason = as_dict(condition).get("reason")
        if reason in (ROLLOUT_ABORTED, PROGRESS_DEADLINE_EXCEEDED):
            return Progress(Outcome.FAILED, str(reason), at)
    phase = status.get("phase")
    if phase == "Degraded":
        return Progress(Outcome.FAILED, _reason(status, "Degraded"), at)
    if phase == "Healthy":
        return Progress(Outcome.SUCCEEDED, None, at)
    return IN_PROGRESS  # Progressing, Paused (a canary step) or not reported yet


def _reason(status: Mapping[str, Any], default: str) -> str:
    message = opt_str(status.get("message"))
    return f"{default}: {message}"[:200] if message else default


def ended_at(progress: Progress, pending: PendingRollout, now: datetime) -> datetime:
    """The end of a rollout as reported, never before it started (clocks and rounding)."""
    end = progress.at or now
    started = parse_time(pending.since)
    return max(end, started) if started is not None else end


def superseded_by(change_type: str) -> Outcome:
    """What a newer rollout of the same object makes of a pending one: a rollback rolled it
    back; anything else superseded it."""
    return Outcome.ROLLED_BACK if change_type == "rollback" else Outcome.SUPERSEDED
