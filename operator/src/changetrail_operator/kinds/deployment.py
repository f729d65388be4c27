"""Deployments: rollouts, rollbacks, restarts and manual scaling.

A Deployment remembers the digests of its earlier pod templates with their revisions: a
template that returns to one of them is a rollback (``kubectl rollout undo``, a revert in Git),
not a rollout. Its replica count is recorded only when a person or a tool set it: an HPA owns
the replicas of what it scales, and its own records say why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from changetrail_operator.bodies import as_dict, as_list, metadata, opt_int, opt_str
from changetrail_operator.changes import ObjectContext, draft, listing
from changetrail_operator.drafts import ChangeDraft, ChangeType
from changetrail_operator.hashing import JsonDict
from changetrail_operator.kinds import pod_templates
from changetrail_operator.kinds.base import Kind
from changetrail_operator.kinds.pod_templates import PodTemplate, referenced_configmaps
from changetrail_operator.managers import changed_by
from changetrail_operator.paths import without_paths
from changetrail_operator.resources import ApiResource
from changetrail_operator.workloads import Workloads

if TYPE_CHECKING:
    from changetrail_operator.policies import Policy

REVISION = "deployment.kubernetes.io/revision"
# How many earlier pod templates a Deployment remembers, to tell a rollback from a rollout.
# Kubernetes keeps 10 old ReplicaSets by default (revisionHistoryLimit), so do we.
HISTORY_LIMIT = 10
# The HPA controller writes the replicas it decides through the scale subresource, as this
# field manager.
_CONTROLLER_MANAGER = "kube-controller-manager"


@dataclass(frozen=True, slots=True)
class EarlierTemplate:
    """A pod template the Deployment had before, stored as ``[digest, revision, images]``."""

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
class DeploymentState:
    template: PodTemplate
    replicas: int | None
    revision: str | None  # the deployment controller's revision number of the template
    generation: int | None
    history: tuple[EarlierTemplate, ...] = ()  # oldest first


def deployment_state(body: Mapping[str, Any], ignore_paths: Iterable[str] = ()) -> DeploymentState:
    """The compact state of a Deployment, without the fields ``ignore_paths`` name."""
    body = without_paths(dict(body), ignore_paths)
    meta = metadata(body)
    spec = as_dict(body.get("spec"))
    return DeploymentState(
        template=PodTemplate.of(as_dict(spec.get("template"))),
        replicas=opt_int(spec.get("replicas")),
        revision=opt_str(as_dict(meta.get("annotations")).get(REVISION)),
        generation=opt_int(meta.get("generation")),
    )


def next_history(
    recorded: DeploymentState | None, new: DeploymentState
) -> tuple[EarlierTemplate, ...]:
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


class DeploymentKind(Kind[DeploymentState]):
    name = "Deployment"
    resource = ApiResource("apps", "v1", "deployments")
    lifecycle_type = ChangeType.DEPLOYMENT

    def track(
        self, event_type: str | None, uid: str, body: Mapping[str, Any], workloads: Workloads
    ) -> None:
        meta = metadata(body)
        namespace, name = meta.get("namespace"), str(meta.get("name"))
        if event_type == "DELETED":
            workloads.forgot_workload(namespace, name)
            return
        pod_spec = as_dict(as_dict(as_dict(body.get("spec")).get("template")).get("spec"))
        workloads.saw_workload(
            self.name,
            namespace,
            name,
            as_dict(meta.get("labels")),
            as_dict(meta.get("annotations")),
            referenced_configmaps(pod_spec),
        )

    def snapshot(self, body: Mapping[str, Any], policy: Policy) -> DeploymentState:
        return deployment_state(body, policy.ignore_paths)

    def carry(self, recorded: DeploymentState | None, new: DeploymentState) -> DeploymentState:
        return replace(new, history=next_history(recorded, new))

    def dump(self, state: DeploymentState) -> JsonDict:
        return {
            **state.template.to_json(),
            "replicas": state.replicas,
            "revision": state.revision,
            "generation": state.generation,
            "history": [entry.to_json() for entry in state.history],
        }

    def load(self, data: JsonDict) -> DeploymentState:
        return DeploymentState(
            template=PodTemplate.from_json(data),
            replicas=opt_int(data.get("replicas")),
            revision=opt_str(data.get("revision")),
            generation=opt_int(data.get("generation")),
            history=tuple(
                EarlierTemplate.from_json(entry) for entry in as_list(data.get("history"))
            ),
        )

    def fingerprinted(self, state: DeploymentState) -> JsonDict:
        # The history changes only when the template does: it is left out, so that an
        # unchanged Deployment is recognised without reading its stored state.
        return {key: value for key, value in self.dump(state).items() if key != "history"}

    def describe(self, state: DeploymentState) -> str:
        return ", ".join(pod_templates.short_image(image) for image in state.template.images())

    def changes(
        self, old: DeploymentState, new: DeploymentState, ctx: ObjectContext, workloads: Workloads
    ) -> list[ChangeDraft]:
        """Rollout, rollback or restart, then manual scaling, in that order."""
        drafts: list[ChangeDraft] = []
        if old.template.digest != new.template.digest:
            drafts.append(self._template_change(old, new, ctx))
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
        self, old: DeploymentState, new: DeploymentState, ctx: ObjectContext
    ) -> ChangeDraft:
        diff = pod_templates.diff(old.template, new.template)
        paths = [("spec", "template")]
        restart = pod_templates.only_restarted(diff)
        earlier = [entry for entry in old.history if entry.digest == new.template.digest]
        if earlier and not restart:
            revision = earlier[-1].revision
            images = ", ".join(pod_templates.short_image(image) for image in new.template.images())
            target = f"revision {revision}" if revision else "an earlier revision"
            return draft(
                ctx,
                what="rollback",
                version=_version(new),
                summary=f"Roll back {ctx.ref} to {target} ({images})",
                change_type=ChangeType.ROLLBACK,
                diff=diff,
                paths=paths,
                extra_details={"to_revision": revision},
            )
        if restart:
            return draft(
                ctx,
                what="restart",
                version=_version(new),
                summary=f"Restart {ctx.ref}",
                change_type=ChangeType.DEPLOYMENT,
                diff=diff,
                paths=paths,
                extra_tags=["restart"],
            )
        phrases = pod_templates.phrases(diff) or ["pod template changed"]
        return draft(
            ctx,
            what="rollout",
            version=_version(new),
            summary=f"Deploy {ctx.ref}: {listing(phrases)}",
            change_type=ChangeType.DEPLOYMENT,
            diff=diff,
            paths=paths,
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


def _version(state: DeploymentState) -> str:
    if state.generation is not None:
        return f"g{state.generation}"
    return f"t{state.template.digest}"
