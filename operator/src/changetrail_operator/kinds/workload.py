"""Workloads a controller rolls out from a pod template: Deployments, StatefulSets, DaemonSets
and Argo Rollouts. Each is a subclass of ``WorkloadKind`` that says where its revision and
update strategy are, and how its rollouts end.

A workload remembers the digests of its earlier pod templates with their revisions: a
template that returns to one of them is a rollback (``kubectl rollout undo``, a revert in
Git), not a rollout. Its replica count is recorded only when a person or a tool set it: an HPA
owns the replicas of what it scales, and its own records say why. Every rollout, rollback and
restart is recorded ``in_progress`` and followed until the controller says how it ended (see
``rollouts``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from changetrail_operator.bodies import as_dict, as_list, metadata, opt_int, opt_str
from changetrail_operator.changes import ObjectContext, draft, listing
from changetrail_operator.drafts import ChangeDraft, ChangeType, Outcome
from changetrail_operator.hashing import JsonDict
from changetrail_operator.kinds import pod_templates
from changetrail_operator.kinds.base import Kind
from changetrail_operator.kinds.pod_templates import (
    PodTemplate,
    referenced_configmaps,
    referenced_secrets,
)
from changetrail_operator.managers import changed_by
from changetrail_operator.paths import without_paths
from changetrail_operator.rollouts import Progress
from changetrail_operator.workloads import Workloads

if TYPE_CHECKING:
    from changetrail_operator.policies import Policy

# How many earlier pod templates a workload remembers, to tell a rollback from a rollout.
# Kubernetes keeps 10 old ReplicaSets or ControllerRevisions by default, so do we.
HISTORY_LIMIT = 10
# The HPA controller writes the replicas it decides through the scale subresource, as this
# field manager.
_CONTROLLER_MANAGER = "kube-controller-manager"
ON_DELETE = "OnDelete"
ROLLING_UPDATE = "RollingUpdate"


@dataclass(frozen=True, slots=True)
class EarlierTemplate:
    """A pod template the workload had before, stored as ``[digest, revision, images]``."""

    digest: str
    revision: str | None
    images: tuple[str, ...]

    def to_json(self) -> list[Any]:
        return [self.digest, self.revision, list(self.images)]

    @classmethod
    def from_json(cls, data: Any) -> EarlierTemplate:
        digest, revision, images = [*as_list(data), None, None, None][:3]
        return cls(str(digest), opt_str(revision), tuple(str(image) for image in as_list(images)))


@dataclass(frozen=True, slots=True)
class UpdateStrategy:
    """How a StatefulSet, DaemonSet or Rollout replaces its pods, as far as summaries care.

    ``type`` is ``RollingUpdate`` or ``OnDelete`` (StatefulSets, DaemonSets), ``canary`` or
    ``blueGreen`` (Rollouts); ``partition`` holds back a StatefulSet's pods below it.
    """

    type: str
    partition: int | None = None

    def to_json(self) -> JsonDict:
        return {"type": self.type, "partition": self.partition}

    @classmethod
    def from_json(cls, data: Any) -> UpdateStrategy | None:
        data = as_dict(data)
        kind = opt_str(data.get("type"))
        return cls(kind, opt_int(data.get("partition"))) if kind else None

    def note(self) -> str | None:
        """What a template change under this strategy does, in a few words."""
        if self.type == ON_DELETE:
            return "pods change only when deleted"
        if self.partition:
            return f"partition {self.partition}: only pods with ordinal ≥ {self.partition}"
        if self.type == "canary":
            return "canary"
        if self.type == "blueGreen":
            return "blue-green"
        return None

    def words(self) -> str:
        return f"{self.type} (partition {self.partition})" if self.partition else self.type


@dataclass(frozen=True, slots=True)
class CanaryStatus:
    """Where an Argo Rollout stands as people move it: its step, a pause waiting for someone
    to promote, an abort, a full promotion."""

    step: int | None
    waiting: bool  # paused until promoted (``pause: {}``, a blue-green switch held back)
    aborted: bool
    promoted_full: bool

    def to_json(self) -> JsonDict:
        return {
            "step": self.step,
            "waiting": self.waiting,
            "aborted": self.aborted,
            "promoted_full": self.promoted_full,
        }

    @classmethod
    def from_json(cls, data: Any) -> CanaryStatus | None:
        if not isinstance(data, Mapping):
            return None
        return cls(
            step=opt_int(data.get("step")),
            waiting=data.get("waiting") is True,
            aborted=data.get("aborted") is True,
            promoted_full=data.get("promoted_full") is True,
        )


@dataclass(frozen=True, slots=True)
class WorkloadState:
    template: PodTemplate
    replicas: int | None
    revision: str | None  # the controller's revision of the template (number or name)
    generation: int | None
    history: tuple[EarlierTemplate, ...] = ()  # oldest first
    strategy: UpdateStrategy | None = None  # None for Deployments (their stored form has none)
    canary: CanaryStatus | None = None  # Argo Rollouts only


def next_history(recorded: WorkloadState | None, new: WorkloadState) -> tuple[EarlierTemplate, ...]:
    """The template history ``new`` carries: earlier templates with their revisions."""
    if recorded is None:
        return new.history
    history = [entry for entry in recorded.history if entry.digest != new.template.digest]
    if recorded.template.digest != new.template.digest:
        history.append(
            EarlierTemplate(
                recorded.template.digest, recorded.revision, tuple(recorded.template.images())
            )
        )
    return tuple(history[-HISTORY_LIMIT:])


class WorkloadKind(Kind[WorkloadState]):
    """A kind whose objects roll out a pod template; subclasses say where things are."""

    lifecycle_type = ChangeType.DEPLOYMENT
    # Whether ``spec.replicas`` exists (a DaemonSet runs one pod per node instead).
    has_replicas: ClassVar[bool] = True
    # The annotation holding the controller's revision number, if it keeps one there.
    revision_annotation: ClassVar[str | None] = None

    # Where things are (overridden per kind) ---------------------------------------------------

    def template_of(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        return as_dict(as_dict(body.get("spec")).get("template"))

    def revision_of(self, body: Mapping[str, Any]) -> str | None:
        if self.revision_annotation is None:
            return None
        return opt_str(as_dict(metadata(body).get("annotations")).get(self.revision_annotation))

    def strategy_of(self, body: Mapping[str, Any]) -> UpdateStrategy | None:
        return None

    def canary_of(self, body: Mapping[str, Any]) -> CanaryStatus | None:
        return None

    # Kind ------------------------------------------------------------------------------------

    def track(
        self, event_type: str | None, uid: str, body: Mapping[str, Any], workloads: Workloads
    ) -> None:
        meta = metadata(body)
        namespace, name = meta.get("namespace"), str(meta.get("name"))
        if event_type == "DELETED":
            workloads.forgot_workload(self.name, namespace, name)
            return
        pod_spec = as_dict(self.template_of(body).get("spec"))
        workloads.saw_workload(
            self.name,
            namespace,
            name,
            as_dict(meta.get("labels")),
            as_dict(meta.get("annotations")),
            referenced_configmaps(pod_spec),
            referenced_secrets(pod_spec),
        )

    def snapshot(self, body: Mapping[str, Any], policy: Policy) -> WorkloadState:
        return self.state_of(body, policy.ignore_paths)

    def state_of(self, body: Mapping[str, Any], ignore_paths: Iterable[str] = ()) -> WorkloadState:
        """The compact state of a workload, without the fields ``ignore_paths`` name."""
        body = without_paths(dict(body), ignore_paths)
        spec = as_dict(body.get("spec"))
        return WorkloadState(
            template=PodTemplate.of(self.template_of(body)),
            replicas=opt_int(spec.get("replicas")) if self.has_replicas else None,
            revision=self.revision_of(body),
            generation=opt_int(metadata(body).get("generation")),
            strategy=self.strategy_of(body),
            canary=self.canary_of(body),
        )

    def carry(self, recorded: WorkloadState | None, new: WorkloadState) -> WorkloadState:
        return replace(new, history=next_history(recorded, new))

    def dump(self, state: WorkloadState) -> JsonDict:
        stored = {
            **state.template.to_json(),
            "replicas": state.replicas,
            "revision": state.revision,
            "generation": state.generation,
            "history": [entry.to_json() for entry in state.history],
        }
        # Only the kinds that have them store these, so a Deployment's stored form is what it
        # was before other workload kinds were watched.
        if state.strategy is not None:
            stored["strategy"] = state.strategy.to_json()
        if state.canary is not None:
            stored["canary"] = state.canary.to_json()
        return stored

    def load(self, data: JsonDict) -> WorkloadState:
        return WorkloadState(
            template=PodTemplate.from_json(data),
            replicas=opt_int(data.get("replicas")),
            revision=opt_str(data.get("revision")),
            generation=opt_int(data.get("generation")),
            history=tuple(
                EarlierTemplate.from_json(entry) for entry in as_list(data.get("history"))
            ),
            strategy=UpdateStrategy.from_json(data.get("strategy")),
            canary=CanaryStatus.from_json(data.get("canary")),
        )

    def fingerprinted(self, state: WorkloadState) -> JsonDict:
        # The history changes only when the template does: it is left out, so that an
        # unchanged workload is recognised without reading its stored state.
        return {key: value for key, value in self.dump(state).items() if key != "history"}

    def describe(self, state: WorkloadState) -> str:
        return ", ".join(pod_templates.short_image(image) for image in state.template.images())

    def changes(
        self, old: WorkloadState, new: WorkloadState, ctx: ObjectContext, workloads: Workloads
    ) -> list[ChangeDraft]:
        """Rollout, rollback or restart, a new update strategy, then manual scaling."""
        drafts: list[ChangeDraft] = []
        if old.template.digest != new.template.digest:
            drafts.append(self._template_change(old, new, ctx))
        if old.strategy is not None and new.strategy is not None and old.strategy != new.strategy:
            drafts.append(
                self._strategy_change(
                    old.strategy, new.strategy, ctx, version=_version(new), follow=not drafts
                )
            )
        if old.replicas != new.replicas and not self._autoscaled(ctx, workloads):
            drafts.append(
                draft(
                    ctx,
                    what="scale",
                    version=_version(new),
                    summary=f"Scale {ctx.ref} {old.replicas} → {new.replicas}",
                    change_type=ChangeType.SCALING,
                    diff=[
                        {
                            "field": "replicas",
                            "change": "changed",
                            "old": old.replicas,
                            "new": new.replicas,
                        }
                    ],
                    paths=[("spec", "replicas")],
                )
            )
        return drafts

    def _template_change(
        self, old: WorkloadState, new: WorkloadState, ctx: ObjectContext
    ) -> ChangeDraft:
        diff = pod_templates.diff(old.template, new.template)
        paths = [("spec", "template")]
        restart = pod_templates.only_restarted(diff)
        note = new.strategy.note() if new.strategy is not None else None
        suffix = f" ({note})" if note else ""
        extra: JsonDict = {}
        if new.strategy is not None:
            extra["update_strategy"] = new.strategy.to_json()
        earlier = [entry for entry in old.history if entry.digest == new.template.digest]
        if earlier and not restart:
            revision = earlier[-1].revision
            images = ", ".join(pod_templates.short_image(image) for image in new.template.images())
            target = f"revision {revision}" if revision else "an earlier revision"
            return draft(
                ctx,
                what="rollback",
                version=_version(new),
                summary=f"Roll back {ctx.ref} to {target} ({images}){suffix}",
                change_type=ChangeType.ROLLBACK,
                diff=diff,
                paths=paths,
                extra_details={"to_revision": revision, **extra},
                outcome=Outcome.IN_PROGRESS,
            )
        if restart:
            return draft(
                ctx,
                what="restart",
                version=_version(new),
                summary=f"Restart {ctx.ref}{suffix}",
                change_type=ChangeType.DEPLOYMENT,
                diff=diff,
                paths=paths,
                extra_tags=["restart"],
                extra_details=extra,
                outcome=Outcome.IN_PROGRESS,
            )
        phrases = pod_templates.phrases(diff) or ["pod template changed"]
        return draft(
            ctx,
            what="rollout",
            version=_version(new),
            summary=f"Deploy {ctx.ref}: {listing(phrases)}{suffix}",
            change_type=ChangeType.DEPLOYMENT,
            diff=diff,
            paths=paths,
            extra_details=extra,
            outcome=Outcome.IN_PROGRESS,
        )

    def _strategy_change(
        self,
        old: UpdateStrategy,
        new: UpdateStrategy,
        ctx: ObjectContext,
        *,
        version: str,
        follow: bool,
    ) -> ChangeDraft:
        """A new strategy; lowering a partition releases the new template to more pods, which
        is a rollout step (followed to its end when no template change is recorded with it)."""
        phrases: list[str] = []
        if old.type != new.type:
            phrases.append(f"{old.type} → {new.type}")
        if (old.partition or 0) != (new.partition or 0):
            phrases.append(f"partition {old.partition or 0} → {new.partition or 0}")
        releases = old.type == new.type == ROLLING_UPDATE and (new.partition or 0) < (
            old.partition or 0
        )
        return draft(
            ctx,
            what="strategy",
            version=version,
            summary=f"Update strategy {ctx.ref}: {listing(phrases)}",
            change_type=ChangeType.DEPLOYMENT if releases else ChangeType.CONFIG_CHANGE,
            diff=[
                {
                    "field": "updateStrategy",
                    "change": "changed",
                    "old": old.to_json(),
                    "new": new.to_json(),
                }
            ],
            paths=[("spec", "updateStrategy"), ("spec", "strategy")],
            outcome=Outcome.IN_PROGRESS if releases and follow else None,
        )

    def _autoscaled(self, ctx: ObjectContext, workloads: Workloads) -> bool:
        if workloads.autoscaled(ctx.namespace, self.name, ctx.name):
            return True
        # At start the HPA may not have been seen yet; the HPA controller writes replicas
        # through the scale subresource as the controller manager, which gives it away.
        if ctx.body is None:
            return False
        author, _ = changed_by(ctx.body, [("spec", "replicas")])
        return author == _CONTROLLER_MANAGER

    def progress(self, body: Mapping[str, Any]) -> Progress | None:
        return None


def _version(state: WorkloadState) -> str:
    if state.generation is not None:
        return f"g{state.generation}"
    return f"t{state.template.digest}"


def update_strategy(spec: Mapping[str, Any], key: str = "updateStrategy") -> UpdateStrategy:
    """A StatefulSet's or DaemonSet's update strategy, with the API server's defaults."""
    strategy = as_dict(spec.get(key))
    kind = opt_str(strategy.get("type")) or ROLLING_UPDATE
    partition = None
    if kind == ROLLING_UPDATE:
        partition = opt_int(as_dict(strategy.get("rollingUpdate")).get("partition"))
    return UpdateStrategy(kind, partition or None)
