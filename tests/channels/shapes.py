"""Each provider's documented message shape, as JSON Schema, for the tests to hold payloads to.

Written from the providers' references: Slack's Block Kit reference (block types and their
limits), the Adaptive Card schema 1.5 (the elements cards use here), the CloudEvents 1.0
specification and its JSON format, PagerDuty's Events API v2 change events, and Grafana's
HTTP annotations API. Objects reject properties the reference does not list.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no stubs

# --- Slack Block Kit ------------------------------------------------------------------------


def _text_object(kind: str, max_length: int) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "type": {"const": kind},
        "text": {"type": "string", "minLength": 1, "maxLength": max_length},
    }
    properties["emoji" if kind == "plain_text" else "verbatim"] = {"type": "boolean"}
    return {
        "type": "object",
        "required": ["type", "text"],
        "properties": properties,
        "additionalProperties": False,
    }


def _any_text(max_length: int) -> dict[str, Any]:
    return {"oneOf": [_text_object("plain_text", max_length), _text_object("mrkdwn", max_length)]}


_BLOCK_ID = {"type": "string", "maxLength": 255}
SLACK_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["text", "blocks"],
    "additionalProperties": False,
    "properties": {
        # With blocks, text is the notification's fallback; Slack truncates it past 40,000.
        "text": {"type": "string", "minLength": 1, "maxLength": 40000},
        "blocks": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["type", "text"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"const": "header"},
                            "text": _text_object("plain_text", 150),
                            "block_id": _BLOCK_ID,
                        },
                    },
                    {
                        "type": "object",
                        "required": ["type"],
                        "anyOf": [{"required": ["text"]}, {"required": ["fields"]}],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"const": "section"},
                            "text": _any_text(3000),
                            "fields": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 10,
                                "items": _any_text(2000),
                            },
                            "block_id": _BLOCK_ID,
                        },
                    },
                    {
                        "type": "object",
                        "required": ["type", "elements"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"const": "context"},
                            "elements": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 10,
                                "items": _any_text(3000),
                            },
                            "block_id": _BLOCK_ID,
                        },
                    },
                    {
                        "type": "object",
                        "required": ["type", "elements"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"const": "actions"},
                            "elements": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 25,
                                "items": {
                                    "type": "object",
                                    "required": ["type", "text", "action_id"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "type": {"const": "button"},
                                        "text": _text_object("plain_text", 75),
                                        "url": {"type": "string", "maxLength": 3000},
                                        "action_id": {"type": "string", "maxLength": 255},
                                        "value": {"type": "string", "maxLength": 2000},
                                        "style": {"enum": ["primary", "danger"]},
                                    },
                                },
                            },
                            "block_id": _BLOCK_ID,
                        },
                    },
                ]
            },
        },
    },
}

# --- Microsoft Teams: a message with an Adaptive Card attachment -----------------------------

_SPACING = {
    "type": "string",
    "pattern": "(?i)^(default|none|small|medium|large|extraLarge|padding)$",
}
_ELEMENT_COMMON = {
    "id": {"type": "string"},
    "isVisible": {"type": "boolean"},
    "separator": {"type": "boolean"},
    "spacing": _SPACING,
}
ADAPTIVE_TEXT_BLOCK = {
    "type": "object",
    "required": ["type", "text"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "TextBlock"},
        "text": {"type": "string"},
        "color": {"pattern": "(?i)^(default|dark|light|accent|good|warning|attention)$"},
        "fontType": {"pattern": "(?i)^(default|monospace)$"},
        "horizontalAlignment": {"pattern": "(?i)^(left|center|right)$"},
        "isSubtle": {"type": ["boolean", "null"]},
        "maxLines": {"type": "number"},
        "size": {"pattern": "(?i)^(default|small|medium|large|extraLarge)$"},
        "weight": {"pattern": "(?i)^(default|lighter|bolder)$"},
        "wrap": {"type": "boolean"},
        "style": {"pattern": "(?i)^(default|heading)$"},
        **_ELEMENT_COMMON,
    },
}
ADAPTIVE_FACT_SET = {
    "type": "object",
    "required": ["type", "facts"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "FactSet"},
        "facts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["title", "value"],
                "additionalProperties": False,
                "properties": {"title": {"type": "string"}, "value": {"type": "string"}},
            },
        },
        **_ELEMENT_COMMON,
    },
}
ADAPTIVE_OPEN_URL = {
    "type": "object",
    "required": ["type", "url"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "Action.OpenUrl"},
        "url": {"type": "string", "minLength": 1},
        "title": {"type": "string"},
        "id": {"type": "string"},
        "style": {"pattern": "(?i)^(default|positive|destructive)$"},
    },
}
ADAPTIVE_CARD = {
    "type": "object",
    # The top-level card needs its version (the schema says so in version's description).
    "required": ["type", "version"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "type": {"const": "AdaptiveCard"},
        "version": {"type": "string", "pattern": r"^1\.[0-6]$"},
        "body": {"type": "array", "items": {"oneOf": [ADAPTIVE_TEXT_BLOCK, ADAPTIVE_FACT_SET]}},
        "actions": {"type": "array", "items": ADAPTIVE_OPEN_URL},
        "fallbackText": {"type": "string"},
        "speak": {"type": "string"},
        "lang": {"type": "string"},
    },
}
TEAMS_MESSAGE = {
    "type": "object",
    "required": ["type", "attachments"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "message"},
        "attachments": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["contentType", "content"],
                "additionalProperties": False,
                "properties": {
                    "contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                    "contentUrl": {"type": ["string", "null"]},
                    "content": ADAPTIVE_CARD,
                },
            },
        },
    },
}

# --- CloudEvents 1.0, structured JSON ----------------------------------------------------------

CLOUDEVENT = {
    "type": "object",
    "required": ["specversion", "id", "source", "type"],
    # Context attribute names: lower-case ASCII letters and digits, at most 20 characters.
    "propertyNames": {"pattern": "^([a-z0-9]{1,20}|data|data_base64)$"},
    "properties": {
        "specversion": {"const": "1.0"},
        "id": {"type": "string", "minLength": 1},
        "source": {"type": "string", "minLength": 1},
        "type": {"type": "string", "minLength": 1},
        "subject": {"type": "string", "minLength": 1},
        "time": {"type": "string", "minLength": 1},
        "datacontenttype": {"type": "string", "minLength": 1},
        "dataschema": {"type": "string", "minLength": 1},
    },
}
CLOUDEVENTS_BATCH = {"type": "array", "minItems": 1, "items": CLOUDEVENT}

# --- PagerDuty Events API v2: change events ----------------------------------------------------

PAGERDUTY_CHANGE_EVENT = {
    "type": "object",
    "required": ["routing_key", "payload"],
    "additionalProperties": False,
    "properties": {
        "routing_key": {"type": "string", "minLength": 1},
        "payload": {
            "type": "object",
            "required": ["summary"],
            "additionalProperties": False,
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "timestamp": {"type": "string"},
                "source": {"type": "string"},
                "custom_details": {"type": "object"},
            },
        },
        "links": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["href"],
                "additionalProperties": False,
                "properties": {"href": {"type": "string"}, "text": {"type": "string"}},
            },
        },
        "images": {"type": "array"},
    },
}

# --- Grafana: POST /api/annotations ------------------------------------------------------------

GRAFANA_ANNOTATION = {
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {
        "dashboardUID": {"type": "string"},
        "panelId": {"type": "integer"},
        "time": {"type": "integer"},
        "timeEnd": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "text": {"type": "string", "minLength": 1},
        "data": {"type": "object"},
    },
}


def problems(schema: dict[str, Any], document: Any) -> list[str]:
    """Every way ``document`` breaks ``schema``, as readable lines (empty: it conforms)."""
    validator = Draft202012Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message[:300]}"
        for error in validator.iter_errors(document)
    ]


def is_rfc3339(value: str) -> bool:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


def standard_webhooks_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification, written from the specification (not changetrail's code).

    The signed content is ``id.timestamp.body``; the key is the base64 after ``whsec_``;
    ``webhook-signature`` holds space-separated ``v1,<base64>`` signatures.
    """
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if "," in s]
    return any(hmac.compare_digest(expected, signature) for signature in offered)
