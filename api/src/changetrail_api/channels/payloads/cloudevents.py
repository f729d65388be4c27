"""Generic webhooks: CloudEvents 1.0 in structured JSON mode, signed per Standard Webhooks.

One change is one event (``application/cloudevents+json``); a digest is a batch, a JSON array
of events (``application/cloudevents-batch+json``), in which every change keeps its own event.
An event's ``id`` is the delivery's id: the same when it is sent again, so a consumer that
drops ids it has seen (as the CloudEvents spec allows: ``source`` + ``id`` identify an event)
sees each change exactly once.

The signature follows the Standard Webhooks specification, which its libraries verify in
many languages: ``webhook-id`` (the message id), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``. A secret
written ``whsec_<base64>`` is used as the bytes it encodes, any other as its UTF-8 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Any

from changetrail_api.channels.payloads.common import Context, Item, Message
from changetrail_api.timefmt import format_utc

SPEC_VERSION = "1.0"
CHANGE_TYPE = "io.changetrail.change.recorded"
TEST_TYPE = "io.changetrail.channel.test"
STRUCTURED = "application/cloudevents+json; charset=utf-8"
BATCH = "application/cloudevents-batch+json; charset=utf-8"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def source(context: Context) -> str:
    return f"urn:changetrail:org:{context.org_id}"


def event(item: Item, context: Context) -> dict[str, Any]:
    change = item.change
    return {
        "specversion": SPEC_VERSION,
        "id": item.delivery_id,
        "source": source(context),
        "type": CHANGE_TYPE,
        "subject": change.id,
        "time": format_utc(change.occurred_at),
        "datacontenttype": "application/json",
        "data": change.model_dump(mode="json"),
    }


def build(message: Message, context: Context) -> tuple[str, Any]:
    """The content type and the JSON document of a message."""
    if message.test:
        return STRUCTURED, {
            "specversion": SPEC_VERSION,
            "id": message.id,
            "source": source(context),
            "type": TEST_TYPE,
            "subject": context.channel_id,
            "datacontenttype": "application/json",
            "data": {"channel_id": context.channel_id, "channel_name": context.channel_name},
        }
    if message.is_digest:
        return BATCH, [event(item, context) for item in message.items]
    return STRUCTURED, event(message.items[0], context)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    secret: str, message_id: str, timestamp: int, body: bytes
) -> list[tuple[str, str]]:
    return [
        ("webhook-id", message_id),
        ("webhook-timestamp", str(timestamp)),
        ("webhook-signature", signature(secret, message_id, timestamp, body)),
    ]
