"""GitHub repository and organisation webhooks.

Detected by the ``X-GitHub-Event`` header, or without it by the ``repository`` + ``sender``
pair every GitHub payload carries. Signed with ``X-Hub-Signature-256`` (HMAC-SHA256 of the
raw body). Mapping table: ``docs/webhooks.md``, section GitHub.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from typing import Any

from changetrail_api.detectors.fields import (
    ZERO_SHA,
    branch_of,
    clip,
    dig,
    first_text,
    flag,
    header,
    items,
    obj,
    push_summary,
    short_sha,
    tag_of,
    text,
    timestamp,
)
from changetrail_api.detectors.model import Detection, Headers, Skip
from changetrail_api.domain import ChangeDraft, ChangeType, RiskLevel

SOURCE = "github"
Outcome = ChangeDraft | Skip

# A workflow run is CI unless its name says it ships something: recording every test run
# would bury the deployments an incident responder is looking for.
_DEPLOYING_WORKFLOW = re.compile(
    r"deploy|release|rollout|roll-out|publish|promot|ship|\bcd\b", re.IGNORECASE
)
_ROLLBACK = re.compile(r"rollback|roll[ -]back|revert|undo", re.IGNORECASE)
_IN_PROGRESS_STATES = frozenset({"queued", "pending", "in_progress", "waiting", "requested"})


class GitHub:
    name = SOURCE

    def claims_headers(self, headers: Headers) -> bool:
        return header(headers, "x-github-event") is not None

    def claims_payload(self, payload: object) -> bool:
        return isinstance(dig(payload, "repository", "full_name"), str) and isinstance(
            dig(payload, "sender", "login"), str
        )

    def verify(self, headers: Headers, body: bytes, secret: str) -> bool:
        presented = header(headers, "x-hub-signature-256")
        if presented is None or not presented.startswith("sha256="):
            return False
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(presented.encode(), expected.encode())

    def parse(self, headers: Headers, payload: object) -> Detection:
        event = header(headers, "x-github-event") or infer_event(payload)
        if not isinstance(payload, dict):
            return Detection(SOURCE, event, [], [Skip("the GitHub payload is not a JSON object")])
        mapper = EVENT_MAPPERS.get(event)
        if mapper is None:
            reason = f"GitHub {event} events are not changes (see the mapping table)"
            return Detection(SOURCE, event, [], [Skip(reason)])
        outcome = mapper(payload)
        if isinstance(outcome, Skip):
            return Detection(SOURCE, event, [], [outcome])
        return Detection(SOURCE, event, [outcome], [])


def infer_event(payload: object) -> str:
    """The event name from the payload's shape, for deliveries that lost their headers."""
    for key, event in (
        ("zen", "ping"),
        ("deployment_status", "deployment_status"),
        # A deployment created by Actions also names its workflow_run: check deployment first.
        ("deployment", "deployment"),
        ("workflow_run", "workflow_run"),
        ("workflow_job", "workflow_job"),
        ("release", "release"),
        ("pull_request", "pull_request"),
        ("check_suite", "check_suite"),
        ("check_run", "check_run"),
    ):
        if dig(payload, key) is not None:
            return event
    if text(payload, "ref_type") is not None:
        return "create" if text(payload, "master_branch") else "delete"
    if text(payload, "after") is not None and text(payload, "ref") is not None:
        return "push"
    if text(payload, "state") is not None and text(payload, "sha") is not None:
        return "status"
    return "unknown"


def _repository(payload: dict[str, Any]) -> tuple[str, str | None]:
    full_name = text(payload, "repository", "full_name") or "repository"
    return full_name, text(payload, "repository", "name")


def _revision(ref: str | None, sha: str | None) -> str:
    """``main@abc1234``, or whichever half is known."""
    return "@".join(part for part in (ref, short_sha(sha)) if part) or "an unknown revision"


def _actor(payload: dict[str, Any], *paths: tuple[str | int, ...]) -> str | None:
    return first_text(payload, *paths, ("sender", "login"))


def map_push(payload: dict[str, Any]) -> Outcome:
    full_name, repo = _repository(payload)
    ref = text(payload, "ref") or ""
    after = text(payload, "after") or ""
    if flag(payload, "deleted") or after == ZERO_SHA:
        return Skip(f"{ref} was deleted from {full_name}; deleting a ref deploys nothing")
    commits = items(payload, "commits")
    head_message = text(payload, "head_commit", "message")
    tag = tag_of(ref)
    if tag is not None:
        summary = f"Tag {tag} pushed to {full_name}"
        tags: tuple[str, ...] = ("tag",)
    else:
        summary = push_summary(len(commits), full_name, ref, head_message)
        tags = ("push", "forced") if flag(payload, "forced") else ("push",)
    return ChangeDraft(
        summary=clip(summary),
        change_type=ChangeType.CODE,
        source=SOURCE,
        service_name=repo,
        commit_sha=after,
        commit_message=head_message,
        branch=branch_of(ref),
        changed_by=_actor(payload, ("pusher", "name")),
        external_id=f"push:{full_name}:{ref}:{after}",
        tags=tags,
        occurred_at=timestamp(payload, "head_commit", "timestamp"),
        details={"compare_url": text(payload, "compare"), "commit_count": len(commits)},
    )


def _deployment_type(deployment: dict[str, Any]) -> ChangeType:
    hints = " ".join(
        value for key in ("task", "description") if (value := text(deployment, key)) is not None
    )
    return ChangeType.ROLLBACK if _ROLLBACK.search(hints) else ChangeType.DEPLOYMENT


def map_deployment(payload: dict[str, Any]) -> Outcome:
    full_name, repo = _repository(payload)
    deployment = obj(payload, "deployment")
    action = text(payload, "action") or "created"
    if action != "created":
        return Skip(f"deployment {action}: only a newly created deployment is a change")
    sha = text(deployment, "sha")
    ref = text(deployment, "ref")
    environment = text(deployment, "environment")
    change_type = _deployment_type(deployment)
    verb = "Roll back" if change_type is ChangeType.ROLLBACK else "Deploy"
    summary = f"{verb} {full_name} {_revision(ref, sha)} to {environment or 'an environment'}"
    return ChangeDraft(
        summary=clip(summary),
        change_type=change_type,
        description=text(deployment, "description"),
        source=SOURCE,
        service_name=repo,
        commit_sha=sha,
        branch=branch_of(ref) if ref and ref != sha else None,
        pipeline_url=text(payload, "workflow_run", "html_url"),
        environment=environment,
        changed_by=_actor(payload, ("deployment", "creator", "login")),
        external_id=f"deployment:{full_name}:{text(deployment, 'id')}",
        tags=("deployment",),
        occurred_at=timestamp(deployment, "created_at"),
        details={"task": text(deployment, "task"), "deployment_id": dig(deployment, "id")},
    )


def map_deployment_status(payload: dict[str, Any]) -> Outcome:
    full_name, repo = _repository(payload)
    status = obj(payload, "deployment_status")
    deployment = obj(payload, "deployment")
    state = text(status, "state") or "unknown"
    environment = text(status, "environment") or text(deployment, "environment")
    if state in _IN_PROGRESS_STATES:
        return Skip(f"deployment to {environment} is {state}; recorded when it finishes")
    if state == "inactive":
        return Skip(f"deployment to {environment} became inactive (superseded by a newer one)")
    if state not in {"success", "failure", "error"}:
        return Skip(f"deployment status {state!r} is not mapped")
    failed = state in {"failure", "error"}
    sha = text(deployment, "sha")
    ref = text(deployment, "ref")
    change_type = _deployment_type(deployment)
    verb = "Rolled back" if change_type is ChangeType.ROLLBACK else "Deployed"
    outcome = "failed" if failed else "succeeded"
    summary = f"{verb} {full_name} {_revision(ref, sha)} to {environment}: {outcome}"
    return ChangeDraft(
        summary=clip(summary),
        change_type=change_type,
        description=text(status, "description"),
        source=SOURCE,
        service_name=repo,
        commit_sha=sha,
        branch=branch_of(ref) if ref and ref != sha else None,
        pipeline_url=first_text(status, ("log_url",), ("target_url",), ("environment_url",)),
        environment=environment,
        risk_level=RiskLevel.HIGH if failed else None,
        changed_by=_actor(payload, ("deployment_status", "creator", "login")),
        external_id=f"deployment_status:{full_name}:{text(status, 'id')}",
        tags=("deployment", state),
        occurred_at=timestamp(status, "created_at"),
        details={"deployment_id": dig(deployment, "id"), "state": state},
    )


def map_release(payload: dict[str, Any]) -> Outcome:
    full_name, repo = _repository(payload)
    release = obj(payload, "release")
    action = text(payload, "action") or "published"
    # GitHub sends "published" for every release and "released" as well for a full one:
    # recording only "published" keeps one change per release.
    if action != "published":
        return Skip(f"release {action}: only a published release is recorded")
    tag = text(release, "tag_name") or "untagged"
    title = text(release, "name")
    summary = f"Release {full_name} {tag}" + (f": {title}" if title and title != tag else "")
    commitish = text(release, "target_commitish")
    return ChangeDraft(
        summary=clip(summary),
        change_type=ChangeType.DEPLOYMENT,
        description=text(release, "body"),
        source=SOURCE,
        service_name=repo,
        branch=commitish if commitish and not re.fullmatch(r"[0-9a-f]{40}", commitish) else None,
        commit_sha=commitish if commitish and re.fullmatch(r"[0-9a-f]{40}", commitish) else None,
        pipeline_url=text(release, "html_url"),
        changed_by=_actor(payload, ("release", "author", "login")),
        external_id=f"release:{full_name}:{text(release, 'id')}",
        tags=("release", "prerelease") if flag(release, "prerelease") else ("release",),
        occurred_at=timestamp(release, "published_at"),
        details={"tag": tag},
    )


def map_workflow_run(payload: dict[str, Any]) -> Outcome:
    full_name, repo = _repository(payload)
    run = obj(payload, "workflow_run")
    workflow = text(run, "name") or text(payload, "workflow", "name") or "workflow"
    path = text(run, "path") or text(payload, "workflow", "path") or ""
    action = text(payload, "action") or "completed"
    if action != "completed":
        return Skip(f"workflow {workflow!r} is {action}; recorded when it completes")
    if not _DEPLOYING_WORKFLOW.search(f"{workflow} {path}"):
        return Skip(
            f"workflow {workflow!r} ({path or 'no path'}) does not deploy: only workflows "
            "whose name or file says deploy, release, rollout, publish or promote are changes"
        )
    conclusion = text(run, "conclusion") or "unknown"
    if conclusion not in {"success", "failure", "timed_out"}:
        return Skip(f"workflow {workflow!r} ended {conclusion}; nothing was deployed")
    failed = conclusion != "success"
    change_type = ChangeType.ROLLBACK if _ROLLBACK.search(workflow) else ChangeType.DEPLOYMENT
    sha = text(run, "head_sha")
    branch = text(run, "head_branch")
    outcome = "failed" if failed else "succeeded"
    target = f"{full_name}@{branch or short_sha(sha) or '?'}"
    run_number = text(run, "run_number")
    summary = f"{workflow}{f' #{run_number}' if run_number else ''} {outcome} for {target}"
    pr_number = text(run, "pull_requests", 0, "number")
    repo_url = text(payload, "repository", "html_url")
    return ChangeDraft(
        summary=clip(summary),
        change_type=change_type,
        description=text(run, "display_title"),
        source=SOURCE,
        service_name=repo,
        commit_sha=sha,
        commit_message=text(run, "head_commit", "message"),
        branch=branch,
        pr_number=pr_number,
        pr_url=f"{repo_url}/pull/{pr_number}" if pr_number and repo_url else None,
        pipeline_url=text(run, "html_url"),
        risk_level=RiskLevel.HIGH if failed else None,
        changed_by=_actor(
            payload,
            ("workflow_run", "triggering_actor", "login"),
            ("workflow_run", "actor", "login"),
        ),
        external_id=f"workflow_run:{full_name}:{text(run, 'id')}:{text(run, 'run_attempt') or 1}",
        tags=("workflow", conclusion),
        occurred_at=timestamp(run, "run_started_at"),
        ended_at=timestamp(run, "updated_at"),
        details={"workflow": workflow, "path": path, "event": text(run, "event")},
    )


def map_pull_request(payload: dict[str, Any]) -> Outcome:
    full_name, repo = _repository(payload)
    pull = obj(payload, "pull_request")
    number = text(pull, "number") or text(payload, "number")
    action = text(payload, "action") or "unknown"
    if action != "closed":
        return Skip(f"pull request #{number} {action}: only a merge changes the code")
    if not flag(pull, "merged"):
        return Skip(f"pull request #{number} was closed without merging")
    base = text(pull, "base", "ref")
    title = text(pull, "title") or ""
    return ChangeDraft(
        summary=clip(f"Merge #{number} into {full_name}{f'@{base}' if base else ''}: {title}"),
        change_type=ChangeType.CODE,
        description=text(pull, "body"),
        source=SOURCE,
        service_name=repo,
        commit_sha=text(pull, "merge_commit_sha"),
        commit_message=title or None,
        branch=base,
        pr_number=number,
        pr_url=text(pull, "html_url"),
        changed_by=_actor(payload, ("pull_request", "merged_by", "login")),
        external_id=f"pull_request:{full_name}:{number}:merged",
        tags=("merge",),
        occurred_at=timestamp(pull, "merged_at"),
        details={"head": text(pull, "head", "ref")},
    )


def map_ping(payload: dict[str, Any]) -> Outcome:
    return Skip(
        f"ping from hook {text(payload, 'hook_id')}: the webhook is set up, nothing to record"
    )


def map_create(payload: dict[str, Any]) -> Outcome:
    ref = text(payload, "ref")
    return Skip(
        f"{text(payload, 'ref_type')} {ref} created: the push event for the same ref is recorded"
    )


def _ci_status(payload: dict[str, Any]) -> Outcome:
    return Skip("CI status events report on a change, they are not one")


EVENT_MAPPERS: dict[str, Callable[[dict[str, Any]], Outcome]] = {
    "push": map_push,
    "deployment": map_deployment,
    "deployment_status": map_deployment_status,
    "release": map_release,
    "workflow_run": map_workflow_run,
    "pull_request": map_pull_request,
    "ping": map_ping,
    "create": map_create,
    "workflow_job": _ci_status,
    "check_suite": _ci_status,
    "check_run": _ci_status,
    "status": _ci_status,
}
