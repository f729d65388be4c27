"""Microsoft Teams through a Workflows webhook: a message carrying one Adaptive Card.

Teams' "Post to a channel when a webhook request is received" workflow takes a message whose
``attachments`` hold the card (content type ``application/vnd.microsoft.card.adaptive``).
Cards use schema version 1.4, which Teams renders, and only TextBlock, FactSet and
Action.OpenUrl.
"""

from __future__ import annotations

from typing import Any

from changetrail_api.channels.payloads.common import (
    DIGEST_LINES,
    Context,
    Message,
    digest_breakdown,
    digest_line,
    digest_title,
    facts,
    links,
    truncate,
)

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
TEXT_MAX = 2000


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": truncate(text, TEXT_MAX), "wrap": True, **style}


def _card(
    body: list[dict[str, Any]], actions: list[tuple[str, str]], fallback: str
) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "fallbackText": truncate(fallback, TEXT_MAX),
        "body": body,
    }
    if actions:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": title, "url": url} for title, url in actions
        ]
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


def build(message: Message, context: Context) -> dict[str, Any]:
    if message.test:
        return _card(
            [
                _text("changetrail test message", weight="Bolder", size="Medium"),
                _text(
                    f"Channel {context.channel_name} is set up: the changes its rules select "
                    "will appear here."
                ),
            ],
            [],
            f"changetrail test message for {context.channel_name}",
        )
    if message.is_digest:
        return _digest(message, context)
    change = message.changes[0]
    body = [
        _text(change.summary, weight="Bolder", size="Medium"),
        {
            "type": "FactSet",
            "facts": [
                {"title": label, "value": truncate(value, 500)} for label, value in facts(change)
            ],
        },
    ]
    if change.description:
        body.append(_text(change.description, isSubtle=True))
    body.append(_text(f"changetrail · {change.id}", isSubtle=True, size="Small"))
    return _card(body, links(change, context), f"[{change.environment}] {change.summary}")


def _digest(message: Message, context: Context) -> dict[str, Any]:
    changes = message.changes
    title = digest_title(changes)
    shown = changes[:DIGEST_LINES]
    more = len(changes) - len(shown)
    body = [
        _text(title, weight="Bolder", size="Medium"),
        _text(digest_breakdown(changes), isSubtle=True),
        *(_text(digest_line(change), spacing="Small") for change in shown),
    ]
    if more > 0:
        body.append(_text(f"and {more} more", isSubtle=True))
    timeline = context.timeline_url()
    return _card(body, [("Open the timeline", timeline)] if timeline else [], title)
