"""Grafana annotations: the body the push channel posts, and the rows the pull endpoint serves.

Push: ``POST /api/annotations`` on a Grafana instance with a service account token. Without a
dashboard the annotation belongs to the organisation, so any dashboard shows it through an
annotation query filtered by tags; ``dashboard_uid`` and ``panel_id`` pin it instead. Tags
name the service, environment, cluster, namespace and change type (``service:payments``), so
a dashboard can select exactly its own changes. A change with an end (a rollout) becomes a
region from ``time`` to ``timeEnd``; a digest, a region over the burst.

Each pushed annotation also carries ``changetrail-message:<id>``: before sending a message
again after an attempt whose outcome is unknown, the worker looks for that tag and does not
post a second annotation when the first one arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from changetrail_api.changes.schemas import ChangeOut
from changetrail_api.channels.payloads.common import (
    DIGEST_LINES,
    Context,
    Message,
    digest_breakdown,
    digest_line,
    digest_title,
    epoch_ms,
    facts,
    span,
    tag_value,
    truncate,
)

MESSAGE_TAG = "changetrail-message:"
TEXT_MAX = 4000
# A digest over many services names each only up to this many; more would bury the others.
DIGEST_SERVICE_TAGS = 5


def tags(change: ChangeOut) -> list[str]:
    """service, environment, cluster, namespace and type, as ``name:value`` tags."""
    pairs = [
        ("service", change.service_name),
        ("environment", change.environment),
        ("cluster", tag_value(change, "cluster")),
        ("namespace", tag_value(change, "namespace")),
        ("type", change.change_type),
    ]
    return ["changetrail", *(f"{name}:{value}" for name, value in pairs if value)]


def text(change: ChangeOut, context: Context) -> str:
    lines = [change.summary, " · ".join(f"{label}: {value}" for label, value in facts(change))]
    if change.description:
        lines.append(truncate(change.description, 1000))
    url = context.change_url(change)
    if url:
        lines.append(url)
    return truncate("\n".join(lines), TEXT_MAX)


def annotation(change: ChangeOut, context: Context) -> dict[str, Any]:
    """One change as Grafana's Infinity data source reads an annotation (the pull endpoint)."""
    start, end = span([change])
    return {
        "id": change.id,
        "time": epoch_ms(start),
        "timeEnd": epoch_ms(end),
        "title": change.summary,
        "text": text(change, context),
        "tags": tags(change),
    }


def _digest_tags(changes: Sequence[ChangeOut]) -> list[str]:
    found: list[str] = []
    for change in changes:
        for tag in tags(change):
            if tag not in found:
                found.append(tag)
    services = [t for t in found if t.startswith("service:")]
    if len(services) > DIGEST_SERVICE_TAGS:
        found = [t for t in found if not t.startswith("service:")]
    return found


def build(message: Message, context: Context) -> dict[str, Any]:
    """The body of ``POST /api/annotations`` for a message."""
    if message.test:
        body: dict[str, Any] = {
            "tags": ["changetrail", "test", MESSAGE_TAG + message.id],
            "text": f"changetrail test message for {context.channel_name}",
        }
    else:
        changes = message.changes
        start, end = span(changes)
        if message.is_digest:
            shown = changes[:DIGEST_LINES]
            more = len(changes) - len(shown)
            lines = [
                digest_title(changes),
                digest_breakdown(changes),
                *(digest_line(change) for change in shown),
                *([f"and {more} more"] if more > 0 else []),
            ]
            body = {"text": truncate("\n".join(lines), TEXT_MAX), "tags": _digest_tags(changes)}
        else:
            body = {"text": text(changes[0], context), "tags": tags(changes[0])}
        body.update(time=epoch_ms(start), timeEnd=epoch_ms(end))
        body["tags"].append(MESSAGE_TAG + message.id)
    dashboard = context.options.get("dashboard_uid")
    if dashboard:
        body["dashboardUID"] = dashboard
        panel = context.options.get("panel_id")
        if panel is not None:
            body["panelId"] = panel
    return body
