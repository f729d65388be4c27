"""What a detector hands back: the detected source, the changes to record and what it skipped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from changetrail_api.domain import ChangeDraft

Headers = Mapping[str, str]
"""HTTP request headers with lower-cased names."""


class PayloadError(ValueError):
    """The body cannot be read as a JSON document within the parser's limits."""


class SignatureMismatch(Exception):
    """The request does not carry the signature or token the endpoint's secret requires."""

    def __init__(self, source: str) -> None:
        super().__init__(f"the {source} signature or token does not match the endpoint's secret")
        self.source = source


@dataclass(frozen=True, slots=True)
class Skip:
    """Something in the payload that was deliberately not recorded, and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class Detection:
    """The outcome of reading one payload: zero, one or several change drafts."""

    source: str
    event: str
    changes: list[ChangeDraft] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    # Fields the sender expects back in the response body to complete a handshake (Event
    # Grid's subscription validation), merged into the receiver's answer.
    reply: dict[str, Any] | None = None


class Provider(Protocol):
    """One webhook sender: how to recognise it, check its signature and map its events."""

    name: str

    def claims_headers(self, headers: Headers) -> bool:
        """True when the request headers alone name this sender."""
        ...

    def claims_payload(self, payload: object) -> bool:
        """True when the payload's shape belongs to this sender."""
        ...

    def verify(self, headers: Headers, body: bytes, secret: str) -> bool:
        """Check the request against the endpoint's secret, in constant time."""
        ...

    def parse(self, headers: Headers, payload: object) -> Detection:
        """Map the payload to change drafts. Never raises for a payload of any shape."""
        ...
