"""Change drafts as every kind words them: identity, tags, author, time and idempotent id.

The kinds (see ``kinds``) decide what changed and how to summarise it; this module turns that
into a ``ChangeDraft`` the same way for all of them, and words the two changes every kind has:
creation and deletion. Every function here is pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from changetrail_operator.bodies import parse_time
from changetrail_operator.drafts import ChangeDraft, ChangeType, Outcome
from changetrail_operator.hashing import JsonDict
from changetrail_operator.managers import changed_by
from changetrail_operator.mapping import tags

if TYPE_CHECKING:
    # Only a type here: policies name the watched kinds, whose modules build on this one.
    from changetrail_operator.policies import Policy

SOURCE = "kubernetes"
SUMMARY_LIMIT = 500
_LISTED = 4  # keys or fields named in a summary before "+N more"


@dataclass(frozen=True, slots=True)
class ObjectContext:
    """What is known about the object a change happened to, besides its states."""

    cluster: str
    kind: str
    uid: str
    namespace: str | None
    name: str
    environment: str
    policy: Policy
    service: str | None = None
    resource_version: str | None = None
    change_cause: str | None = None
    # The object as last seen, when the change is observed live: managedFields name the author.
    body: Mapping[str, Any] | None = None
    consumers: tuple[str, ...] = ()
    # Short hashes of the stored states before and after ("old-new"): what versions a change
    # when the object's resourceVersion is not at hand (a re-diff of stored states).
    transition: str | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def draft(
    ctx: ObjectContext,
    *,
    what: str,
    version: str,
    summary: str,
    change_type: ChangeType,
    diff: Sequence[JsonDict] = (),
    paths: Sequence[Sequence[str]] = (),
    extra_tags: Sequence[str] = (),
    extra_details: JsonDict | None = None,
    occurred_at: datetime | None = None,
    author: str | None = None,
    outcome: Outcome | None = None,
) -> ChangeDraft:
    """A change of ``what`` (``rollout``, ``data``, ...) at ``version``, which with the object's
    identity makes the ``external_id``: the same change observed twice is recorded once.

    ``paths`` are the changed fields; the newest writer of one of them is the author.
    ``outcome=in_progress`` marks a rollout the observer follows until it ends.
    """
    written_at = None
    if author is None and ctx.body is not None:
        author, written_at = changed_by(ctx.body, paths)
    details: JsonDict = {
        "kubernetes": {
            "cluster": ctx.cluster,
            "kind": ctx.kind,
            "namespace": ctx.namespace,
            "name": ctx.name,
            "uid": ctx.uid,
        },
        "diff": list(diff),
    }
    if ctx.policy.namespace is not None or ctx.policy.name != "defaults":
        details["policy"] = ctx.policy.reference
    if ctx.change_cause:
        details["change_cause"] = ctx.change_cause
    details.update(extra_details or {})
    return ChangeDraft(
        summary=summary[:SUMMARY_LIMIT],
        change_type=change_type,
        description=ctx.change_cause,
        source=SOURCE,
        service_name=ctx.service,
        environment=ctx.environment,
        risk_level=ctx.policy.risk_for(change_type),
        changed_by=author,
        external_id=f"k8s:{ctx.cluster}:{ctx.kind}:{ctx.uid}:{what}:{version}"[:255],
        tags=tags(ctx.cluster, ctx.namespace, ctx.kind, *extra_tags),
        occurred_at=occurred_at or parse_time(written_at) or ctx.now,
        details=details,
        outcome=outcome,
    )


def listing(names: Sequence[str]) -> str:
    """``a, b, c, d, +2 more``: what a summary names of a longer list."""
    shown = ", ".join(names[:_LISTED])
    return shown + (f", +{len(names) - _LISTED} more" if len(names) > _LISTED else "")


def content_version(ctx: ObjectContext) -> str:
    """The version of a change of an object without a generation: its resourceVersion, or
    the hashes of the two states when it is not at hand."""
    if ctx.resource_version:
        return f"rv{ctx.resource_version}"
    return ctx.transition or "unknown"


def created_change(
    description: str,
    change_type: ChangeType,
    ctx: ObjectContext,
    created_at: datetime | None,
    *,
    outcome: Outcome | None = None,
) -> ChangeDraft:
    return draft(
        ctx,
        what="created",
        version="1",
        summary=f"Create {ctx.kind} {ctx.ref} ({description})",
        change_type=change_type,
        extra_tags=["created"],
        occurred_at=created_at,
        outcome=outcome,
    )


def deleted_change(description: str, change_type: ChangeType, ctx: ObjectContext) -> ChangeDraft:
    return draft(
        ctx,
        what="deleted",
        version="1",
        summary=f"Delete {ctx.kind} {ctx.ref} ({description})",
        change_type=change_type,
        extra_tags=["deleted"],
    )
