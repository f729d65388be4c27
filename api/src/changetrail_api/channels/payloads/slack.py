"""Slack incoming webhooks: Block Kit blocks, with ``text`` as the notification fallback.

Limits from Slack's Block Kit reference are applied here, so no change can produce a message
Slack rejects: a header's text up to 150 characters, a section's text up to 3,000, at most 10
fields of up to 2,000, at most 10 context elements, button labels up to 75 characters and at
most 50 blocks. mrkdwn text escapes ``&``, ``<`` and ``>`` as Slack asks.
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
    headline,
    links,
    truncate,
)

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
BUTTON_TEXT_MAX = 75
URL_MAX = 3000
FALLBACK_MAX = 3000


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, HEADER_MAX)}}


def _mrkdwn(text: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate(text, limit)}


def _buttons(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    if not pairs:
        return []
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": truncate(title, BUTTON_TEXT_MAX)},
            "url": url,
            "action_id": f"changetrail-link-{n}",
        }
        for n, (title, url) in enumerate(pairs)
        if len(url) <= URL_MAX
    ]
    return [{"type": "actions", "elements": elements}] if elements else []


def build(message: Message, context: Context) -> dict[str, Any]:
    if message.test:
        return _test(context)
    if message.is_digest:
        return _digest(message, context)
    change = message.changes[0]
    blocks: list[dict[str, Any]] = [
        _header(change.summary),
        {
            "type": "section",
            "fields": [
                _mrkdwn(f"*{label}*\n{escape(value)}", FIELD_MAX)
                for label, value in facts(change)[:FIELDS_MAX]
            ],
        },
    ]
    if change.description:
        blocks.append({"type": "section", "text": _mrkdwn(escape(change.description))})
    blocks.append(
        {"type": "context", "elements": [_mrkdwn(f"changetrail · {change.id}")]},
    )
    blocks += _buttons(links(change, context))
    return {"text": truncate(escape(headline(change)), FALLBACK_MAX), "blocks": blocks}


def _digest(message: Message, context: Context) -> dict[str, Any]:
    changes = message.changes
    title = digest_title(changes)
    lines = [f"• {escape(digest_line(change))}" for change in changes[:DIGEST_LINES]]
    more = len(changes) - len(lines)
    summary = digest_breakdown(changes) + (f" · and {more} more" if more > 0 else "")
    timeline = context.timeline_url()
    blocks: list[dict[str, Any]] = [
        _header(title),
        {"type": "section", "text": _mrkdwn("\n".join(lines))},
        {"type": "context", "elements": [_mrkdwn(escape(summary))]},
    ]
    blocks += _buttons([("Open the timeline", timeline)] if timeline else [])
    return {"text": truncate(escape(f"{title}: {summary}"), FALLBACK_MAX), "blocks": blocks}


def _test(context: Context) -> dict[str, Any]:
    text = (
        f"Channel *{escape(context.channel_name)}* is set up: the changes its rules select "
        "will appear here."
    )
    return {
        "text": f"changetrail test message for {escape(context.channel_name)}",
        "blocks": [_header("changetrail test message"), {"type": "section", "text": _mrkdwn(text)}],
    }
