"""Argo Rollouts: what Deployments get, plus the moves people make during a canary.

A Rollout is watched when its CRD is installed, whether at start or later. Its template,
rollbacks (``kubectl argo rollouts undo`` returns the template to an earlier revision, named in
the ``rollout.argoproj.io/revision`` annotation), restarts and manual scaling are recorded as
for Deployments; a template change names the strategy, ``(canary)`` or ``(blue-green)``.

What people do during a rollout happens in its status, written by the ``kubectl argo
rollouts`` plugin (or the dashboard) and then acted on by the controller:

- a promotion releases a pause that waits for someone (a canary ``pause: {}`` step, or a
  blue-green switch without auto-promotion), or promotes fully (``status.promoteFull``);
- an abort (``status.abort``) sends traffic back to the stable version: a rollback, and the
  end of the rollout in progress, which fails;
- a retry after an abort starts the rollout again.

Pauses with a duration and steps the controller takes on its own are the rollout working as
configured: they are kept in the state (so a restart does not take them for news) but not
recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from changetrail_operator.bodies import as_dict, as_list, opt_int
from changetrail_operator.changes import ObjectContext, content_version, draft
from changetrail_operator.drafts import ChangeDraft, ChangeType, Outcome
from changetrail_operator.kinds import pod_templates
from changetrail_operator.kinds.workload import (
    CanaryStatus,
    UpdateStrategy,
    WorkloadKind,
    WorkloadState,
)
from changetrail_operator.resources import ApiResource
from changetrail_operator.rollouts import Progress, argo_rollout_progress
from changetrail_operator.workloads import Workloads

REVISION = "rollout.argoproj.io/revision"
CANARY_PAUSE = "CanaryPauseStep"
BLUE_GREEN_PAUSE = "BlueGreenPause"


def _strategy(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_dict(as_dict(body.get("spec")).get("strategy"))


def waiting_for_promotion(body: Mapping[str, Any]) -> bool:
    """Whether the rollout is paused until someone promotes it."""
    status = as_dict(body.get("status"))
    reasons = {as_dict(item).get("reason") for item in as_list(status.get("pauseConditions"))}
    if BLUE_GREEN_PAUSE in reasons:
        blue_green = as_dict(_strategy(body).get("blueGreen"))
        return blue_green.get("autoPromotionSeconds") is None
    if CANARY_PAUSE in reasons:
        steps = as_list(as_dict(_strategy(body).get("canary")).get("steps"))
        index = opt_int(status.get("currentStepIndex"))
        if index is not None and 0 <= index < len(steps):
            pause = as_dict(steps[index]).get("pause")
            return isinstance(pause, Mapping) and pause.get("duration") is None
    return False


class ArgoRolloutKind(WorkloadKind):
    name = "Rollout"
    resource = ApiResource("argoproj.io", "v1alpha1", "rollouts")
    revision_annotation = REVISION

    def strategy_of(self, body: Mapping[str, Any]) -> UpdateStrategy | None:
        strategy = _strategy(body)
        if "blueGreen" in strategy:
            return UpdateStrategy("blueGreen")
        return UpdateStrategy("canary")

    def canary_of(self, body: Mapping[str, Any]) -> CanaryStatus | None:
        status = as_dict(body.get("status"))
        return CanaryStatus(
            step=opt_int(status.get("currentStepIndex")),
            waiting=waiting_for_promotion(body),
            aborted=status.get("abort") is True,
            promoted_full=status.get("promoteFull") is True,
        )

    def progress(self, body: Mapping[str, Any]) -> Progress | None:
        return argo_rollout_progress(body)

    def changes(
        self, old: WorkloadState, new: WorkloadState, ctx: ObjectContext, workloads: Workloads
    ) -> list[ChangeDraft]:
        drafts = super().changes(old, new, ctx, workloads)
        if old.template.digest != new.template.digest:
            return drafts  # a new rollout: the moves of the previous one are over
        before, after = old.canary, new.canary
        if before is None or after is None:
            return drafts
        images = ", ".join(pod_templates.short_image(image) for image in new.template.images())
        if after.aborted and not before.aborted:
            drafts.append(
                self._move(
                    ctx,
                    "abort",
                    f"Abort {ctx.ref} ({images}): back to the stable version",
                    ChangeType.ROLLBACK,
                    ("status", "abort"),
                )
            )
        elif before.aborted and not after.aborted:
            drafts.append(
                self._move(
                    ctx,
                    "retry",
                    f"Retry {ctx.ref} ({images})",
                    ChangeType.DEPLOYMENT,
                    ("status", "abort"),
                    outcome=Outcome.IN_PROGRESS,
                )
            )
        elif after.promoted_full and not before.promoted_full:
            drafts.append(
                self._move(
                    ctx,
                    "promote",
                    f"Promote {ctx.ref} fully ({images})",
                    ChangeType.DEPLOYMENT,
                    ("status", "promoteFull"),
                )
            )
        elif before.waiting and not after.waiting and not after.aborted:
            where = f" past step {before.step + 1}" if before.step is not None else ""
            drafts.append(
                self._move(
                    ctx,
                    "promote",
                    f"Promote {ctx.ref}{where} ({images})",
                    ChangeType.DEPLOYMENT,
                    ("status", "pauseConditions"),
                )
            )
        return drafts

    def _move(
        self,
        ctx: ObjectContext,
        what: str,
        summary: str,
        change_type: ChangeType,
        path: tuple[str, ...],
        outcome: Outcome | None = None,
    ) -> ChangeDraft:
        # Moves are status writes: the resourceVersion of the write versions them, so an
        # abort, a retry and a second abort of one revision are three records.
        return draft(
            ctx,
            what=what,
            version=content_version(ctx),
            summary=summary,
            change_type=change_type,
            paths=[path],
            extra_tags=[what],
            outcome=outcome,
        )
