"""The kinds of channel, one class each: what a destination needs, the request for a message,
the default rate, and (for Grafana) how to tell that a message already arrived.

A kind turns a message into an HTTP request and nothing else: it does no I/O, so each one is
tested by the request it builds. Adding a kind is a class here and a payload module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib.metadata import version
from typing import Any, ClassVar
from urllib.parse import urlencode

from changetrail_api.channels.payloads import cloudevents, grafana, pagerduty, slack, teams
from changetrail_api.channels.payloads.common import Context, Message
from changetrail_api.channels.transport import Answer, Outbound

# The destination fields a channel may hold, all write-only and sealed together.
DESTINATION_FIELDS = ("url", "routing_key", "token", "signing_secret")
JSON = "application/json"
USER_AGENT = f"changetrail/{version('changetrail-api')}"


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class Kind:
    """A kind of channel. Subclasses set the class attributes and build requests."""

    name: ClassVar[str]
    # Messages per minute unless the channel says otherwise: the receiver's documented rate.
    default_per_minute: ClassVar[int]
    # Most deliveries in one message; None when a digest may summarise any number.
    max_batch: ClassVar[int | None] = None
    required: ClassVar[frozenset[str]] = frozenset({"url"})
    optional: ClassVar[frozenset[str]] = frozenset()

    def request(
        self, message: Message, context: Context, destination: Mapping[str, str], now: int
    ) -> Outbound:
        raise NotImplementedError

    def lookup(
        self, message: Message, context: Context, destination: Mapping[str, str]
    ) -> Outbound | None:
        """A request that finds an earlier copy of ``message`` at the receiver, if it can."""
        return None

    def seen(self, answer: Answer) -> bool:
        """Whether the look-up's answer shows the message arrived before."""
        return False

    @staticmethod
    def headers(content_type: str = JSON, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
        return (("Content-Type", content_type), ("User-Agent", USER_AGENT), *extra)


class Slack(Kind):
    name = "slack"
    # Slack allows incoming webhooks about one message a second, with short bursts.
    default_per_minute = 60

    def request(
        self, message: Message, context: Context, destination: Mapping[str, str], now: int
    ) -> Outbound:
        body = _json(slack.build(message, context))
        return Outbound(url=destination["url"], body=body, headers=self.headers())


class Teams(Kind):
    name = "teams"
    # Workflows (Power Automate) throttle a flow's trigger well below Slack's rate.
    default_per_minute = 30

    def request(
        self, message: Message, context: Context, destination: Mapping[str, str], now: int
    ) -> Outbound:
        body = _json(teams.build(message, context))
        return Outbound(url=destination["url"], body=body, headers=self.headers())


class Webhook(Kind):
    name = "webhook"
    default_per_minute = 600
    # A batch keeps every event whole, so it is bounded rather than summarised.
    max_batch = 100
    optional = frozenset({"signing_secret"})

    def request(
        self, message: Message, context: Context, destination: Mapping[str, str], now: int
    ) -> Outbound:
        content_type, document = cloudevents.build(message, context)
        body = _json(document)
        extra: list[tuple[str, str]] = []
        secret = destination.get("signing_secret")
        if secret:
            extra = cloudevents.signature_headers(secret, message.id, now, body)
        return Outbound(
            url=destination["url"], body=body, headers=self.headers(content_type, *extra)
        )


class PagerDuty(Kind):
    name = "pagerduty"
    # The Events API allows about 120 events a minute per routing key; keep half of it.
    default_per_minute = 60
    # The URL too, though most accounts use pagerduty.DEFAULT_URL: EU accounts send to
    # events.eu.pagerduty.com, and nothing is sent anywhere nobody wrote down.
    required = frozenset({"url", "routing_key"})

    def request(
        self, message: Message, context: Context, destination: Mapping[str, str], now: int
    ) -> Outbound:
        body = _json(pagerduty.build(message, context, destination["routing_key"]))
        return Outbound(url=destination["url"], body=body, headers=self.headers())


class Grafana(Kind):
    name = "grafana"
    default_per_minute = 600
    required = frozenset({"url", "token"})

    @staticmethod
    def _api(destination: Mapping[str, str]) -> str:
        return destination["url"].rstrip("/") + "/api/annotations"

    def _auth(self, destination: Mapping[str, str]) -> tuple[str, str]:
        return ("Authorization", f"Bearer {destination['token']}")

    def request(
        self, message: Message, context: Context, destination: Mapping[str, str], now: int
    ) -> Outbound:
        body = _json(grafana.build(message, context))
        return Outbound(
            url=self._api(destination),
            body=body,
            headers=self.headers(JSON, self._auth(destination)),
        )

    def lookup(
        self, message: Message, context: Context, destination: Mapping[str, str]
    ) -> Outbound | None:
        query = urlencode(
            {"tags": grafana.MESSAGE_TAG + message.id, "type": "annotation", "limit": 1}
        )
        return Outbound(
            url=f"{self._api(destination)}?{query}",
            body=b"",
            method="GET",
            headers=(("Accept", JSON), ("User-Agent", USER_AGENT), self._auth(destination)),
        )

    def seen(self, answer: Answer) -> bool:
        if not answer.ok:
            return False
        try:
            found = json.loads(answer.body)
        except ValueError:
            return False
        return isinstance(found, list) and len(found) > 0


KINDS: dict[str, Kind] = {
    kind.name: kind for kind in (Slack(), Teams(), Webhook(), PagerDuty(), Grafana())
}
KIND_NAMES = tuple(KINDS)
