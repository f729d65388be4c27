"""Sending one message and judging the answer.

``judge`` is pure: an answer becomes delivered, retry (with the receiver's Retry-After when it
gave one) or dead. ``deliver`` is the thin I/O around it; when an earlier attempt may have
arrived unseen and the kind can look (Grafana), it looks first and does not send twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from changetrail_api.channels.kinds import Kind
from changetrail_api.channels.payloads.common import Context, Message
from changetrail_api.channels.retry import parse_retry_after
from changetrail_api.channels.transport import Answer, Transport

# Answers that say "later": timeouts, too early, too many requests, and server errors.
_RETRYABLE_4XX = {408, 425, 429}
_ERROR_MAX = 500


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Result:
    verdict: Verdict
    status: int | None = None
    error: str | None = None
    # Seconds the receiver asked us to wait (429 or 503 with Retry-After).
    retry_after: float | None = None
    # The attempt may have reached the receiver unanswered: the next one checks first.
    uncertain: bool = False


def _excerpt(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return " ".join(text.split())[:200]


def judge(answer: Answer, now: datetime) -> Result:
    """What an answer means for the message."""
    if answer.ok:
        return Result(Verdict.DELIVERED, status=answer.status)
    if answer.refused:
        return Result(Verdict.DEAD, error=(answer.error or "refused")[:_ERROR_MAX])
    if answer.status is None:
        return Result(
            Verdict.RETRY,
            error=(answer.error or "no answer")[:_ERROR_MAX],
            uncertain=answer.uncertain,
        )
    said = _excerpt(answer.body)
    error = f"HTTP {answer.status}" + (f": {said}" if said else "")
    if answer.error:
        error = f"{error} ({answer.error})"
    retry_after = parse_retry_after(answer.headers.get("retry-after"), now)
    if answer.status in _RETRYABLE_4XX or answer.status >= 500 or answer.status < 400:
        return Result(
            Verdict.RETRY, status=answer.status, error=error[:_ERROR_MAX], retry_after=retry_after
        )
    # Any other 4xx is the receiver refusing this message (a revoked webhook, a payload it
    # does not take): retrying would only repeat it. It waits, visible, in the dead letters,
    # until someone fixes the channel and redelivers.
    return Result(Verdict.DEAD, status=answer.status, error=error[:_ERROR_MAX])


async def deliver(
    kind: Kind,
    message: Message,
    context: Context,
    destination: Mapping[str, str],
    transport: Transport,
    *,
    maybe_delivered: bool,
) -> Result:
    if maybe_delivered:
        lookup = kind.lookup(message, context, destination)
        if lookup is not None and kind.seen(await transport.send(lookup)):
            return Result(Verdict.DELIVERED, error="found at the receiver from an earlier attempt")
    now = datetime.now(UTC)
    answer = await transport.send(kind.request(message, context, destination, int(now.timestamp())))
    return judge(answer, now)
