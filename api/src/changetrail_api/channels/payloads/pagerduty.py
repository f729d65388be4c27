"""PagerDuty change events (Events API v2, ``/v2/change/enqueue``).

A change event needs ``routing_key`` and ``payload.summary`` (up to 1,024 characters);
``payload.timestamp``, ``payload.source``, ``payload.custom_details`` and ``links`` are
optional. PagerDuty shows change events beside a service's incidents, which is where a
responder looks for "what changed?". A digest is one change event listing the changes in its
custom details.
"""

from __future__ import annotations

from typing import Any

from changetrail_api.changes.schemas import ChangeOut
from changetrail_api.channels.payloads.common import (
    Context,
    Message,
    digest_breakdown,
    digest_title,
    headline,
    links,
    truncate,
)
from changetrail_api.channels.rules import outcome_of
from changetrail_api.timefmt import format_utc

DEFAULT_URL = "https://events.pagerduty.com/v2/change/enqueue"
SUMMARY_MAX = 1024
# Changes a digest's custom details list; the count says how many there were in all.
DETAILS_LIST_MAX = 50


def _details(change: ChangeOut) -> dict[str, Any]:
    values: dict[str, Any] = {
        "change_id": change.id,
        "service": change.service_name,
        "environment": change.environment,
        "change_type": change.change_type,
        "risk_level": change.risk_level,
        "outcome": outcome_of(change),
        "changed_by": change.changed_by,
        "source": change.source,
        "commit_sha": change.commit_sha,
        "branch": change.branch,
        "tags": change.tags or None,
        "description": truncate(change.description, 2000) if change.description else None,
    }
    return {key: value for key, value in values.items() if value is not None}


def build(message: Message, context: Context, routing_key: str) -> dict[str, Any]:
    if message.test:
        return {
            "routing_key": routing_key,
            "payload": {
                "summary": truncate(f"changetrail test message for {context.channel_name}", 1024),
                "source": "changetrail",
                "custom_details": {"channel_id": context.channel_id},
            },
        }
    changes = message.changes
    if not message.is_digest:
        change = changes[0]
        return {
            "routing_key": routing_key,
            "payload": {
                "summary": truncate(headline(change), SUMMARY_MAX),
                "timestamp": format_utc(change.occurred_at),
                "source": change.service_name or change.source,
                "custom_details": _details(change),
            },
            "links": [{"href": url, "text": title} for title, url in links(change, context)],
        }
    listed = changes[:DETAILS_LIST_MAX]
    timeline = context.timeline_url()
    return {
        "routing_key": routing_key,
        "payload": {
            "summary": truncate(
                f"{digest_title(changes)}: {digest_breakdown(changes)}", SUMMARY_MAX
            ),
            "timestamp": format_utc(max(c.occurred_at for c in changes)),
            "source": "changetrail",
            "custom_details": {
                "count": len(changes),
                "changes": [
                    {
                        "summary": headline(c),
                        **_details(c),
                        "occurred_at": format_utc(c.occurred_at),
                    }
                    for c in listed
                ],
                **(
                    {"not_listed": len(changes) - len(listed)} if len(changes) > len(listed) else {}
                ),
            },
        },
        "links": [{"href": timeline, "text": "Open the timeline"}] if timeline else [],
    }
