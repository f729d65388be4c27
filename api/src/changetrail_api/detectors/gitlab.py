"""GitLab project and group webhooks.

Detected by the ``X-Gitlab-Event`` header, or without it by ``object_kind`` next to a
``project``. GitLab does not sign bodies: it sends the configured secret token back in
``X-Gitlab-Token``. Mapping table: ``docs/webhooks.md``, section GitLab.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from changetrail_api.detectors.fields import (
    ZERO_SHA,
    branch_of,
    clip,
    dig,
    first_text,
    header,
    items,
    last_segment,
    obj,
    push_summary,
    same_secret,
    short_sha,
    tag_of,
    text,
    timestamp,
)
from changetrail_api.detectors.model import Detection, Headers, Skip
from changetrail_api.domain import ChangeDraft, ChangeType, RiskLevel

SOURCE = "gitlab"
Outcome = ChangeDraft | Skip

_FINISHED_OK = "success"
_FINISHED_BAD = frozenset({"failed"})
_IN_PROGRESS = frozenset(
    {"created", "waiting_for_resource", "preparing", "pending", "running", "scheduled", "manual"}
)


class GitLab:
    name = SOURCE

    def claims_headers(self, headers: Headers) -> bool:
        return header(headers, "x-gitlab-event") is not None

    def claims_payload(self, payload: object) -> bool:
        return isinstance(dig(payload, "object_kind"), str) and (
            isinstance(dig(payload, "project"), dict) or dig(payload, "project_id") is not None
        )

    def verify(self, headers: Headers, body: bytes, secret: str) -> bool:
        return same_secret(header(headers, "x-gitlab-token"), secret)

    def parse(self, headers: Headers, payload: object) -> Detection:
        kind = text(payload, "object_kind")
        event = kind or header(headers, "x-gitlab-event") or "unknown"
        if not isinstance(payload, dict):
            return Detection(SOURCE, event, [], [Skip("the GitLab payload is not a JSON object")])
        mapper = EVENT_MAPPERS.get(event)
        if mapper is None:
            reason = f"GitLab {event} events are not changes (see the mapping table)"
            return Detection(SOURCE, event, [], [Skip(reason)])
        outcome = mapper(payload, headers)
        if isinstance(outcome, Skip):
            return Detection(SOURCE, event, [], [outcome])
        return Detection(SOURCE, event, [outcome], [])


def _project(payload: dict[str, Any]) -> tuple[str, str | None, str]:
    """(path with namespace, name, id) of the project the event belongs to."""
    path = first_text(payload, ("project", "path_with_namespace"), ("project_name",)) or "project"
    name = text(payload, "project", "name") or last_segment(path)
    project_id = first_text(payload, ("project", "id"), ("project_id",)) or path
    return path, name, project_id


def _user(payload: dict[str, Any]) -> str | None:
    return first_text(
        payload, ("user_username",), ("user", "username"), ("user_name",), ("user", "name")
    )


def map_push(payload: dict[str, Any], headers: Headers) -> Outcome:
    path, name, project_id = _project(payload)
    ref = text(payload, "ref") or ""
    after = text(payload, "after") or text(payload, "checkout_sha") or ""
    if after == ZERO_SHA:
        return Skip(f"{ref} was deleted from {path}; deleting a ref deploys nothing")
    commits = items(payload, "commits")
    head = next((c for c in commits if text(c, "id") == after), commits[-1] if commits else {})
    message = text(head, "message")
    total = dig(payload, "total_commits_count")
    count = total if isinstance(total, int) and not isinstance(total, bool) else len(commits)
    tag = tag_of(ref)
    if tag is not None:
        summary = f"Tag {tag} pushed to {path}"
        kind_tags: tuple[str, ...] = ("tag",)
    else:
        summary = push_summary(count, path, ref, message)
        kind_tags = ("push",)
    return ChangeDraft(
        summary=clip(summary),
        change_type=ChangeType.CODE,
        source=SOURCE,
        service_name=name,
        commit_sha=after,
        commit_message=message,
        branch=branch_of(ref),
        changed_by=_user(payload),
        external_id=f"push:{project_id}:{ref}:{after}",
        tags=kind_tags,
        occurred_at=timestamp(head, "timestamp"),
        details={"before": text(payload, "before"), "commit_count": count},
    )


def map_merge_request(payload: dict[str, Any], headers: Headers) -> Outcome:
    path, name, project_id = _project(payload)
    request = obj(payload, "object_attributes")
    iid = text(request, "iid")
    action = text(request, "action") or text(request, "state") or "unknown"
    if action not in {"merge", "merged"}:
        return Skip(f"merge request !{iid} {action}: only a merge changes the code")
    target = text(request, "target_branch")
    title = text(request, "title") or ""
    return ChangeDraft(
        summary=clip(
            f"Merge {f'!{iid}' if iid else 'a merge request'} into "
            f"{path}{f'@{target}' if target else ''}: {title}"
        ),
        change_type=ChangeType.CODE,
        description=text(request, "description"),
        source=SOURCE,
        service_name=name,
        commit_sha=first_text(request, ("merge_commit_sha",), ("last_commit", "id")),
        commit_message=title or None,
        branch=target,
        pr_number=iid,
        pr_url=text(request, "url"),
        changed_by=_user(payload),
        external_id=f"merge_request:{project_id}:{iid}:merged",
        tags=("merge",),
        occurred_at=timestamp(request, "updated_at"),
        details={"source_branch": text(request, "source_branch")},
    )


def _deploy_jobs(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Jobs of a pipeline that started an environment and succeeded."""
    return [
        build
        for build in items(payload, "builds")
        if isinstance(build, dict)
        and text(build, "environment", "name") is not None
        and text(build, "environment", "action") in {None, "start"}
        and text(build, "status") == _FINISHED_OK
    ]


def map_pipeline(payload: dict[str, Any], headers: Headers) -> Outcome:
    path, name, project_id = _project(payload)
    pipeline = obj(payload, "object_attributes")
    pipeline_id = text(pipeline, "id")
    status = text(pipeline, "status") or "unknown"
    if status in _IN_PROGRESS:
        return Skip(f"pipeline {pipeline_id} is {status}; recorded when it finishes")
    if status != _FINISHED_OK and status not in _FINISHED_BAD:
        return Skip(f"pipeline {pipeline_id} ended {status}; nothing was deployed")
    deploy_jobs = _deploy_jobs(payload)
    if not deploy_jobs:
        return Skip(
            f"pipeline {pipeline_id} ({status}) ran no successful deploy job (a job with an "
            "environment); Deployment events record deployments"
        )
    environments = sorted({text(job, "environment", "name") or "" for job in deploy_jobs})
    ref = text(pipeline, "ref")
    sha = text(pipeline, "sha")
    failed = status in _FINISHED_BAD
    outcome = "failed" if failed else "succeeded"
    target = f"{path}@{ref or short_sha(sha) or '?'}"
    pipeline_label = f"Pipeline {pipeline_id}" if pipeline_id else "A pipeline"
    summary = f"{pipeline_label} deployed {target} to {', '.join(environments)}: {outcome}"
    merge_request = obj(payload, "merge_request")
    return ChangeDraft(
        summary=clip(summary),
        change_type=ChangeType.DEPLOYMENT,
        source=SOURCE,
        service_name=name,
        commit_sha=sha,
        commit_message=text(payload, "commit", "message"),
        branch=None if dig(pipeline, "tag") is True else ref,
        pr_number=text(merge_request, "iid"),
        pr_url=text(merge_request, "url"),
        pipeline_url=text(pipeline, "url"),
        environment=environments[0] if len(environments) == 1 else None,
        risk_level=RiskLevel.HIGH if failed else None,
        changed_by=_user(payload),
        external_id=f"pipeline:{project_id}:{pipeline_id}:{status}",
        tags=("pipeline", status),
        occurred_at=timestamp(pipeline, "created_at"),
        ended_at=timestamp(pipeline, "finished_at"),
        details={"environments": environments, "jobs": [text(j, "name") for j in deploy_jobs]},
    )


def map_deployment(payload: dict[str, Any], headers: Headers) -> Outcome:
    path, name, project_id = _project(payload)
    status = text(payload, "status") or "unknown"
    environment = text(payload, "environment")
    deployment_id = text(payload, "deployment_id")
    if status in _IN_PROGRESS:
        return Skip(
            f"deployment {deployment_id} to {environment} is {status}; recorded when it finishes"
        )
    if status != _FINISHED_OK and status not in _FINISHED_BAD:
        return Skip(f"deployment {deployment_id} to {environment} was {status}; nothing changed")
    failed = status in _FINISHED_BAD
    commit_url = text(payload, "commit_url")
    sha = last_segment(commit_url) or text(payload, "short_sha")
    title = text(payload, "commit_title")
    summary = f"Deploy {path}@{short_sha(sha) or '?'} to {environment or 'an environment'}: " + (
        "failed" if failed else "succeeded"
    )
    summary += f" ({title})" if title else ""
    return ChangeDraft(
        summary=clip(summary),
        change_type=ChangeType.DEPLOYMENT,
        source=SOURCE,
        service_name=name,
        commit_sha=sha,
        commit_message=title,
        branch=text(payload, "ref"),
        pipeline_url=text(payload, "deployable_url"),
        environment=environment,
        risk_level=RiskLevel.HIGH if failed else None,
        changed_by=_user(payload),
        external_id=f"deployment:{project_id}:{deployment_id}:{status}",
        tags=("deployment", status),
        occurred_at=timestamp(payload, "status_changed_at"),
        details={
            "environment_tier": text(payload, "environment_tier"),
            "environment_url": text(payload, "environment_external_url"),
        },
    )


def map_release(payload: dict[str, Any], headers: Headers) -> Outcome:
    path, name, project_id = _project(payload)
    action = text(payload, "action") or "create"
    if action != "create":
        return Skip(f"release {action}: only a newly created release is recorded")
    tag = text(payload, "tag") or "untagged"
    title = text(payload, "name")
    return ChangeDraft(
        summary=clip(f"Release {path} {tag}" + (f": {title}" if title and title != tag else "")),
        change_type=ChangeType.DEPLOYMENT,
        description=text(payload, "description"),
        source=SOURCE,
        service_name=name,
        commit_sha=text(payload, "commit", "id"),
        commit_message=text(payload, "commit", "message"),
        pipeline_url=text(payload, "url"),
        changed_by=text(payload, "commit", "author", "name"),
        external_id=f"release:{project_id}:{text(payload, 'id')}",
        tags=("release",),
        occurred_at=timestamp(payload, "released_at") or timestamp(payload, "created_at"),
        details={"tag": tag},
    )


def map_feature_flag(payload: dict[str, Any], headers: Headers) -> Outcome:
    path, name, project_id = _project(payload)
    flag = obj(payload, "object_attributes")
    flag_name = text(flag, "name") or "feature flag"
    active = dig(flag, "active") is True
    # The flag payload carries no event id; GitLab's Idempotency-Key (constant across
    # retries of one delivery) keeps on → off → on as three changes and a retry as one.
    delivery = header(headers, "idempotency-key") or header(headers, "x-gitlab-event-uuid")
    external_id = f"feature_flag:{project_id}:{text(flag, 'id')}:" + (
        delivery or ("on" if active else "off")
    )
    return ChangeDraft(
        summary=clip(f"Feature flag {flag_name} turned {'on' if active else 'off'} in {path}"),
        change_type=ChangeType.FEATURE_FLAG,
        description=text(flag, "description"),
        source=SOURCE,
        service_name=name,
        changed_by=_user(payload),
        external_id=external_id,
        tags=("feature_flag",),
        details={"flag": flag_name, "active": active},
    )


def _job(payload: dict[str, Any], headers: Headers) -> Outcome:
    return Skip(
        f"job {text(payload, 'build_name')} is {text(payload, 'build_status')}: job events are "
        "CI status; deployments are recorded from Deployment and Pipeline events"
    )


EVENT_MAPPERS: dict[str, Callable[[dict[str, Any], Headers], Outcome]] = {
    "push": map_push,
    "tag_push": map_push,
    "merge_request": map_merge_request,
    "pipeline": map_pipeline,
    "deployment": map_deployment,
    "release": map_release,
    "feature_flag": map_feature_flag,
    "build": _job,
}
