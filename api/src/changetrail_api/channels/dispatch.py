"""The worker's steps, each one transaction (the worker opens and commits it):

- ``route``: queued changes become deliveries for the channels whose rules select them;
- ``release_expired``: claims whose worker went away become pending again;
- ``claim_channel``: for one channel, plan what may be sent now (folding bursts) and claim it;
- ``renew``: just before a claimed message is sent, make sure it is still this worker's and
  give it a whole lease for the call;
- ``finish``: record what the receiver said, and schedule the retry or dead-letter it.

Between ``claim_channel`` and ``finish`` the worker sends, outside any transaction: no
database connection waits on a receiver.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import new_id
from changetrail_api.changes import service as changes_service
from changetrail_api.channels import repository
from changetrail_api.channels.delivery import Result, Verdict
from changetrail_api.channels.folding import (
    Waiting,
    available,
    budget_for,
    hold_until,
    next_free,
    plan,
    spend,
)
from changetrail_api.channels.kinds import KINDS
from changetrail_api.channels.models import Channel
from changetrail_api.channels.payloads.common import Context, Item, Message
from changetrail_api.channels.retry import RetryPolicy, next_attempt
from changetrail_api.channels.rules import Rule, selects

logger = logging.getLogger(__name__)

# Rows per INSERT: well under SQLite's limit on bound parameters.
_INSERT_CHUNK = 200


@dataclass(frozen=True, slots=True)
class Claim:
    """A message claimed for sending, with what the worker needs to send it."""

    claim_id: str
    channel_id: str
    kind: str
    sealed: str
    context: Context
    message: Message
    maybe_delivered: bool
    attempts: int
    per_minute: int
    # When each change was recorded, for the delivery latency metric.
    recorded_at: tuple[datetime, ...]


def _rules(channel: Channel) -> list[Rule] | None:
    try:
        return [Rule.model_validate(rule) for rule in channel.rules]
    except ValidationError:
        logger.warning(
            "channel %s has rules that no longer validate; it receives nothing", channel.id
        )
        return None


async def route(session: AsyncSession, *, limit: int, now: datetime, give_up_after: float) -> int:
    """Turn up to ``limit`` queued changes into deliveries; returns how many were taken."""
    taken = await repository.take_outbox(session, limit)
    if not taken:
        return 0
    channels: dict[str, list[tuple[Channel, list[Rule]]]] = {}
    for channel in await repository.enabled_in(session, {row[0].org_id for row in taken}):
        rules = _rules(channel)
        if rules is not None:
            channels.setdefault(channel.org_id, []).append((channel, rules))
    give_up_at = now + timedelta(seconds=give_up_after)
    rows: list[dict[str, Any]] = []
    for queued, change, service_name in taken:
        view = changes_service.to_out(change, service_name)
        for channel, rules in channels.get(queued.org_id, []):
            if selects(rules, view):
                rows.append(
                    {
                        "id": new_id("dlv"),
                        "org_id": queued.org_id,
                        "channel_id": channel.id,
                        "change_id": change.id,
                        "state": repository.PENDING,
                        "message_id": None,
                        "claim_id": None,
                        "attempts": 0,
                        "maybe_delivered": False,
                        "message_size": 0,
                        "next_attempt_at": now,
                        "give_up_at": give_up_at,
                        "last_status": None,
                        "last_error": None,
                        "created_at": now,
                        "updated_at": now,
                        "delivered_at": None,
                    }
                )
    for start in range(0, len(rows), _INSERT_CHUNK):
        await repository.add_deliveries(session, rows[start : start + _INSERT_CHUNK])
    await repository.drop_outbox(session, [queued.change_id for queued, _, _ in taken])
    return len(taken)


async def release_expired(session: AsyncSession, now: datetime) -> int:
    return await repository.release_expired(session, now)


async def due_channels(
    session: AsyncSession, now: datetime, limit: int, *, resting: list[str]
) -> list[str]:
    return await repository.due_channels(session, now, limit, resting=resting)


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a channel may send now; when it may send nothing, when it may again (if known)."""

    claims: list[Claim]
    resume_at: datetime | None = None


async def claim_channel(
    session: AsyncSession,
    channel_id: str,
    *,
    now: datetime,
    lease_until: datetime,
    limit: int,
    public_url: str | None,
) -> Claimed:
    """Claim what one channel may send now, as messages; none when its budget is spent (then
    ``resume_at`` says until when), another worker holds it, or nothing is due."""
    channel = await repository.lock_channel(session, channel_id)
    kind = KINDS.get(channel.kind) if channel is not None else None
    if channel is None or kind is None:
        return Claimed([])
    budget = budget_for(channel.max_per_minute)
    tokens = available(budget, channel.rate_tat, now)
    if tokens == 0:
        return Claimed([], resume_at=next_free(budget, channel.rate_tat, now))
    due = await repository.due_deliveries(session, channel.id, now, limit)
    planned = plan(
        [Waiting(d.id, d.message_id, d.created_at) for d in due], tokens, max_batch=kind.max_batch
    )
    context = Context(
        org_id=channel.org_id,
        channel_id=channel.id,
        channel_name=channel.name,
        public_url=public_url,
        options=dict(channel.options),
    )
    claims: list[Claim] = []
    for message in planned:
        claim_id = new_id("clm")
        message_id = message.message_id or new_id("msg")
        await repository.claim(
            session,
            message.delivery_ids,
            claim_id=claim_id,
            message_id=message_id,
            lease_until=lease_until,
            now=now,
        )
        rows = await repository.claimed(session, claim_id)
        items = tuple(
            Item(delivery.id, changes_service.to_out(change, service_name))
            for delivery, change, service_name in rows
            if change is not None
        )
        if not items:
            continue
        claims.append(
            Claim(
                claim_id=claim_id,
                channel_id=channel.id,
                kind=kind.name,
                sealed=channel.sealed,
                context=context,
                message=Message(id=message_id, items=items),
                maybe_delivered=any(delivery.maybe_delivered for delivery, _, _ in rows),
                attempts=max(delivery.attempts for delivery, _, _ in rows),
                recorded_at=tuple(change.created_at for _, change, _ in rows if change),
                per_minute=channel.max_per_minute,
            )
        )
    if claims:
        await repository.set_rate(
            session, channel.id, spend(budget, channel.rate_tat, now, len(claims))
        )
    return Claimed(claims)


async def renew(session: AsyncSession, claim: Claim, lease_until: datetime) -> bool:
    """True when the claim is still held, now until ``lease_until``.

    A channel's messages are sent one after another, so the last of a large claim could
    otherwise outlive the lease it got at claim time and be released to another worker while
    this one is about to send it.
    """
    return await repository.renew(session, claim.claim_id, lease_until)


async def finish(
    session: AsyncSession,
    claim: Claim,
    result: Result,
    *,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> dict[str, int]:
    """Record a message's outcome; returns how many deliveries ended in each verdict."""
    common: dict[str, Any] = {
        "claim_id": None,
        "last_status": result.status,
        "last_error": result.error,
        "updated_at": now,
    }
    if result.verdict is Verdict.DELIVERED:
        done = await repository.finish(
            session,
            claim.claim_id,
            {**common, "state": repository.DELIVERED, "delivered_at": now, "next_attempt_at": now},
            expired_before=None,
        )
        return {"delivered": len(done)}
    dead_values = {**common, "state": repository.DEAD, "next_attempt_at": now}
    if result.verdict is Verdict.DEAD:
        dead = await repository.finish(session, claim.claim_id, dead_values, expired_before=None)
        return {"dead": len(dead)}
    # A retry, except for the deliveries whose time is up: those are dead-lettered now.
    dead = await repository.finish(session, claim.claim_id, dead_values, expired_before=now)
    later = next_attempt(policy, claim.attempts, now, rng, retry_after=result.retry_after)
    retry_values: dict[str, Any] = {**common, "state": repository.PENDING, "next_attempt_at": later}
    if result.uncertain:
        retry_values["maybe_delivered"] = True
    retried = await repository.finish(session, claim.claim_id, retry_values, expired_before=None)
    if result.status == 429 or result.retry_after is not None:
        # The receiver is throttling the whole destination: the channel waits, not just this
        # message, so the next one does not run into the same 429.
        await repository.hold_channel(
            session, claim.channel_id, hold_until(budget_for(claim.per_minute), later)
        )
    return {"dead": len(dead), "retry": len(retried)}


async def prune(session: AsyncSession, before: datetime) -> int:
    return await repository.prune(session, before)


async def backlog(session: AsyncSession) -> dict[str, int]:
    return await repository.unfinished_counts(session)
