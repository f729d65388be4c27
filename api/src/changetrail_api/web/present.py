"""How a change reads on a page: its time, place, emphasis and links. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urlsplit

from changetrail_api.changes.schemas import ChangeOut
from changetrail_api.web import zones

# Words producers use in tags or details for a rollout that did not succeed.
_FAILED = frozenset({"failed", "failure", "error", "errored"})
TYPE_LABELS = {
    "deployment": "Deployment",
    "config_change": "Config change",
    "infrastructure": "Infrastructure",
    "code": "Code",
    "database_migration": "DB migration",
    "feature_flag": "Feature flag",
    "rollback": "Rollback",
    "scaling": "Scaling",
    "security_patch": "Security patch",
    "other": "Other",
}


def safe_url(value: object) -> str | None:
    """An http(s) URL worth linking to, or None: stored URLs are user input (no javascript:)."""
    if not isinstance(value, str) or len(value) > 2048:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return value.strip()
    return None


def tag_value(tags: Iterable[str], prefix: str) -> str | None:
    for tag in tags:
        if tag.startswith(prefix + ":"):
            return tag[len(prefix) + 1 :] or None
    return None


def kubernetes_place(change: ChangeOut) -> tuple[str | None, str | None]:
    """(cluster, namespace) from the operator's tags, else from ``details.kubernetes``."""
    cluster, namespace = tag_value(change.tags, "cluster"), tag_value(change.tags, "namespace")
    section = (change.details or {}).get("kubernetes")
    if isinstance(section, Mapping):
        cluster = cluster or _text(section.get("cluster"))
        namespace = namespace or _text(section.get("namespace"))
    return cluster, namespace


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def is_failed(change: ChangeOut) -> bool:
    details = change.details or {}
    facts = [details.get("outcome"), details.get("state"), details.get("status")]
    # A completed rollout's outcome (the operator completes its rollouts).
    facts.append(change.outcome)
    return any(isinstance(f, str) and f.lower() in _FAILED for f in facts) or any(
        tag.lower() in _FAILED for tag in change.tags
    )


def emphasis(change: ChangeOut) -> str | None:
    """What makes a row stand out: a rollback or a failed rollout."""
    if change.change_type == "rollback":
        return "rollback"
    if is_failed(change):
        return "failed"
    return None


@dataclass(frozen=True, slots=True)
class Row:
    change: ChangeOut
    iso: str
    clock: str
    exact: str
    relative: str
    cluster: str | None
    namespace: str | None
    emphasis: str | None
    type_label: str
    # When the change happened, if noticeably earlier than it was recorded (imports, catch-up).
    happened: str | None


@dataclass(frozen=True, slots=True)
class Day:
    heading: str
    iso: str
    rows: list[Row]


def row(change: ChangeOut, zone: tzinfo, now: datetime) -> Row:
    cluster, namespace = kubernetes_place(change)
    happened = None
    if abs((change.created_at - change.occurred_at).total_seconds()) > 60:
        happened = zones.exact(change.occurred_at, zone)
    return Row(
        change=change,
        iso=zones.iso_utc(change.created_at),
        clock=zones.clock(change.created_at, zone),
        exact=zones.exact(change.created_at, zone),
        relative=zones.relative(change.created_at, now),
        cluster=cluster,
        namespace=namespace,
        emphasis=emphasis(change),
        type_label=TYPE_LABELS.get(change.change_type, change.change_type),
        happened=happened,
    )


def by_day(changes: Sequence[ChangeOut], zone: tzinfo, now: datetime) -> list[Day]:
    """Newest first, as listed, under one heading per calendar day in the viewer's zone."""
    today = now.astimezone(zone).date()
    days: list[Day] = []
    for change in changes:
        day = change.created_at.astimezone(zone).date()
        if not days or days[-1].iso != day.isoformat():
            days.append(Day(zones.day_heading(day, today), day.isoformat(), []))
        days[-1].rows.append(row(change, zone, now))
    return days


def _repository_web_url(pr_url: str) -> tuple[str, str] | None:
    """(repository URL, host kind) from a GitHub pull request or GitLab merge request URL."""
    parts = urlsplit(pr_url)
    path = parts.path
    base = f"{parts.scheme}://{parts.netloc}"
    if "/-/merge_requests/" in path:
        return base + path.split("/-/merge_requests/", 1)[0], "gitlab"
    if "/pull/" in path:
        return base + path.split("/pull/", 1)[0], "github"
    return None


def links(change: ChangeOut) -> list[tuple[str, str]]:
    """The (label, URL) links of a change: pull request, pipeline, commit, compare."""
    out: list[tuple[str, str]] = []
    details: dict[str, Any] = change.details or {}
    pr_url = safe_url(change.pr_url)
    if pr_url:
        label = f"Pull request #{change.pr_number}" if change.pr_number else "Pull request"
        out.append((label, pr_url))
    pipeline_url = safe_url(change.pipeline_url)
    if pipeline_url:
        out.append(("Pipeline", pipeline_url))
    commit_url = safe_url(details.get("commit_url"))
    if commit_url is None and change.commit_sha and pr_url:
        found = _repository_web_url(pr_url)
        if found and change.commit_sha.isalnum():
            repository, kind = found
            middle = "/-/commit/" if kind == "gitlab" else "/commit/"
            commit_url = repository + middle + change.commit_sha
    if commit_url:
        out.append(
            (f"Commit {change.commit_sha[:12]}" if change.commit_sha else "Commit", commit_url)
        )
    compare_url = safe_url(details.get("compare_url"))
    if compare_url:
        out.append(("Compare", compare_url))
    return out
