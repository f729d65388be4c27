"""What every kind of message says about a change, before each provider shapes it.

A message carries one change or, folded, several (a digest). These helpers pick the words:
a one-line headline, the facts worth a glance, links, and a digest's summary line. Each
provider module turns them into its own format.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from changetrail_api.changes.schemas import ChangeOut
from changetrail_api.channels.rules import outcome_of
from changetrail_api.timefmt import format_utc

# Lines a digest lists before it says "and N more"; chat messages stay readable.
DIGEST_LINES = 15


@dataclass(frozen=True, slots=True)
class Item:
    delivery_id: str
    change: ChangeOut


@dataclass(frozen=True, slots=True)
class Message:
    """What one HTTP call delivers: one change, or several folded into a digest.

    ``id`` stays the same when the message is sent again, so receivers that remember ids
    (CloudEvents consumers, the Grafana look-up) can tell a retry from a new message.
    """

    id: str
    items: tuple[Item, ...]
    test: bool = False

    @property
    def changes(self) -> list[ChangeOut]:
        return [item.change for item in self.items]

    @property
    def is_digest(self) -> bool:
        return len(self.items) > 1


@dataclass(frozen=True, slots=True)
class Context:
    """Who sends: the channel, and where changetrail's pages are (for links)."""

    org_id: str
    channel_id: str
    channel_name: str
    public_url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def change_url(self, change: ChangeOut) -> str | None:
        if self.public_url is None:
            return None
        return f"{self.public_url.rstrip('/')}/ui/changes/{change.id}"

    def timeline_url(self) -> str | None:
        if self.public_url is None:
            return None
        return f"{self.public_url.rstrip('/')}/ui"


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def tag_value(change: ChangeOut, prefix: str) -> str | None:
    """The value of the first ``prefix:value`` tag, e.g. the cluster of a Kubernetes change."""
    for tag in change.tags:
        if tag.startswith(prefix + ":"):
            return tag[len(prefix) + 1 :]
    return None


def where(change: ChangeOut) -> str:
    """The service (or the namespace) and the environment: ``payments · production``."""
    place = change.service_name or tag_value(change, "namespace")
    return f"{place} · {change.environment}" if place else change.environment


def headline(change: ChangeOut) -> str:
    """One line that stands alone in a notification: ``[production] Deploy api 1.4 → 1.5``."""
    return f"[{change.environment}] {change.summary}"


def facts(change: ChangeOut) -> list[tuple[str, str]]:
    """The short facts worth a glance, in reading order; unknown ones are left out."""
    pairs: list[tuple[str, str | None]] = [
        ("Service", change.service_name),
        ("Environment", change.environment),
        ("Type", change.change_type),
        ("Risk", change.risk_level),
        ("Outcome", outcome_of(change)),
        ("By", change.changed_by),
        ("Source", change.source),
        ("Cluster", tag_value(change, "cluster")),
        ("Namespace", tag_value(change, "namespace")),
        ("Commit", change.commit_sha[:12] if change.commit_sha else None),
        ("Branch", change.branch),
        ("When", format_utc(change.occurred_at)),
    ]
    return [(label, value) for label, value in pairs if value]


def links(change: ChangeOut, context: Context) -> list[tuple[str, str]]:
    """(title, url) of the pages a reader may want next."""
    found = [
        ("View in changetrail", context.change_url(change)),
        ("Pull request", change.pr_url),
        ("Pipeline", change.pipeline_url),
    ]
    return [(title, url) for title, url in found if url and url.startswith(("http://", "https://"))]


def digest_title(changes: Sequence[ChangeOut]) -> str:
    environments = sorted({c.environment for c in changes})
    place = environments[0] if len(environments) == 1 else f"{len(environments)} environments"
    return f"{len(changes)} changes in {place}"


def digest_breakdown(changes: Sequence[ChangeOut]) -> str:
    """``8 deployment, 3 config_change, 1 scaling``: most frequent type first."""
    counted = Counter(c.change_type for c in changes)
    return ", ".join(
        f"{n} {kind}" for kind, n in sorted(counted.items(), key=lambda i: (-i[1], i[0]))
    )


def digest_line(change: ChangeOut) -> str:
    return f"{format_utc(change.occurred_at)[11:19]}Z  {where(change)} — {change.summary}"


def span(changes: Sequence[ChangeOut]) -> tuple[datetime, datetime]:
    """When the changes of a message happened: the first start and the last end."""
    starts = [c.occurred_at for c in changes]
    ends = [c.ended_at or c.occurred_at for c in changes]
    return min(starts), max(max(ends), max(starts))


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)
