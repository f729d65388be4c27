"""CronJobs: a new job template is a deployment, a new schedule or a suspension is config.

What a CronJob runs is its job template: a change there changes every later run, like a
rollout. When and whether it runs (schedule, time zone, suspend, concurrency) is
configuration. The Jobs and Pods it spawns are not watched at all: each run is the CronJob
working as configured, never a change, and its status (last and active runs) is not kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from changetrail_operator.bodies import as_dict, metadata, opt_int, opt_str
from changetrail_operator.changes import ObjectContext, draft, listing
from changetrail_operator.drafts import ChangeDraft, ChangeType
from changetrail_operator.hashing import JsonDict, content_hash
from changetrail_operator.kinds import pod_templates
from changetrail_operator.kinds.base import Kind
from changetrail_operator.kinds.pod_templates import (
    PodTemplate,
    referenced_configmaps,
    referenced_secrets,
)
from changetrail_operator.paths import without_paths
from changetrail_operator.resources import ApiResource
from changetrail_operator.workloads import Workloads

if TYPE_CHECKING:
    from changetrail_operator.policies import Policy

# Scheduling fields kept as they are: short, never secret, and what a summary names.
_SCHEDULING = (
    "schedule",
    "timeZone",
    "concurrencyPolicy",
    "startingDeadlineSeconds",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
)


@dataclass(frozen=True, slots=True)
class CronJobState:
    template: PodTemplate  # the pod template of the job template
    job: str  # hash of the rest of the job template (backoffLimit, parallelism, labels, ...)
    scheduling: dict[str, Any]  # the _SCHEDULING fields that are set
    suspended: bool
    generation: int | None


def job_template(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_dict(as_dict(body.get("spec")).get("jobTemplate"))


def pod_template(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_dict(as_dict(job_template(body).get("spec")).get("template"))


class CronJobKind(Kind[CronJobState]):
    name = "CronJob"
    resource = ApiResource("batch", "v1", "cronjobs")
    lifecycle_type = ChangeType.DEPLOYMENT

    def track(
        self, event_type: str | None, uid: str, body: Mapping[str, Any], workloads: Workloads
    ) -> None:
        meta = metadata(body)
        namespace, name = meta.get("namespace"), str(meta.get("name"))
        if event_type == "DELETED":
            workloads.forgot_workload(self.name, namespace, name)
            return
        pod_spec = as_dict(pod_template(body).get("spec"))
        workloads.saw_workload(
            self.name,
            namespace,
            name,
            as_dict(meta.get("labels")),
            as_dict(meta.get("annotations")),
            referenced_configmaps(pod_spec),
            referenced_secrets(pod_spec),
        )

    def snapshot(self, body: Mapping[str, Any], policy: Policy) -> CronJobState:
        body = without_paths(dict(body), policy.ignore_paths)
        spec = as_dict(body.get("spec"))
        job = dict(job_template(body))
        job_spec = {k: v for k, v in as_dict(job.get("spec")).items() if k != "template"}
        return CronJobState(
            template=PodTemplate.of(pod_template(body)),
            job=content_hash({"metadata": job.get("metadata"), "spec": job_spec}, 8),
            scheduling={key: spec[key] for key in _SCHEDULING if spec.get(key) is not None},
            suspended=spec.get("suspend") is True,
            generation=opt_int(metadata(body).get("generation")),
        )

    def dump(self, state: CronJobState) -> JsonDict:
        return {
            **state.template.to_json(),
            "job": state.job,
            "scheduling": dict(state.scheduling),
            "suspended": state.suspended,
            "generation": state.generation,
        }

    def load(self, data: JsonDict) -> CronJobState:
        return CronJobState(
            template=PodTemplate.from_json(data),
            job=str(data.get("job")),
            scheduling=dict(as_dict(data.get("scheduling"))),
            suspended=data.get("suspended") is True,
            generation=opt_int(data.get("generation")),
        )

    def describe(self, state: CronJobState) -> str:
        images = ", ".join(pod_templates.short_image(image) for image in state.template.images())
        schedule = opt_str(state.scheduling.get("schedule"))
        return ", ".join(part for part in (schedule, images) if part)

    def changes(
        self, old: CronJobState, new: CronJobState, ctx: ObjectContext, workloads: Workloads
    ) -> list[ChangeDraft]:
        version = f"g{new.generation}" if new.generation is not None else ctx.transition or "?"
        drafts: list[ChangeDraft] = []
        if old.template.digest != new.template.digest or old.job != new.job:
            diff = pod_templates.diff(old.template, new.template)
            if old.job != new.job:
                diff.append({"field": "jobTemplate.spec", "change": "changed"})
            phrases = pod_templates.phrases(diff) or ["job template changed"]
            drafts.append(
                draft(
                    ctx,
                    what="jobtemplate",
                    version=version,
                    summary=f"Deploy {ctx.ref}: {listing(phrases)}",
                    change_type=ChangeType.DEPLOYMENT,
                    diff=diff,
                    paths=[("spec", "jobTemplate")],
                )
            )
        diff = _scheduling_diff(old, new)
        if diff:
            drafts.append(
                draft(
                    ctx,
                    what="schedule",
                    version=version,
                    summary=f"CronJob {ctx.ref}: {listing([_phrase(entry) for entry in diff])}",
                    change_type=ChangeType.CONFIG_CHANGE,
                    diff=diff,
                    paths=[("spec", key) for key in (*_SCHEDULING, "suspend")],
                )
            )
        return drafts


def _scheduling_diff(old: CronJobState, new: CronJobState) -> list[JsonDict]:
    entries: list[JsonDict] = []
    if old.suspended != new.suspended:
        entries.append(
            {"field": "suspend", "change": "changed", "old": old.suspended, "new": new.suspended}
        )
    for key in _SCHEDULING:
        before, after = old.scheduling.get(key), new.scheduling.get(key)
        if before != after:
            entries.append({"field": key, "change": "changed", "old": before, "new": after})
    return entries


def _phrase(entry: JsonDict) -> str:
    if entry["field"] == "suspend":
        return "suspended" if entry["new"] else "resumed"
    before = "unset" if entry["old"] is None else entry["old"]
    after = "unset" if entry["new"] is None else entry["new"]
    return f"{entry['field']} {before} → {after}"
