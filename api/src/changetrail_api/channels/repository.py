"""All SQL about channels, their outbox and their deliveries.

The worker's statements are written so that several replicas can run them at once: on
PostgreSQL, outbox rows and channel rows are taken with ``FOR UPDATE SKIP LOCKED``, so two
workers never route the same change or claim for the same channel at the same time; on both
backends a claim is a conditional ``UPDATE`` (``state = 'pending'``) and an outcome is
recorded only under the claim that made it (``claim_id``), so a worker whose lease ran out
cannot overwrite what the next one did.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.changes.models import Change
from changetrail_api.channels.models import Channel, ChannelDelivery, ChannelOutbox
from changetrail_api.services.models import Service
from changetrail_api.upsert import insert

PENDING = "pending"
SENDING = "sending"
DELIVERED = "delivered"
DEAD = "dead"
STATES = (PENDING, SENDING, DELIVERED, DEAD)

ChangeRow = tuple[Change, str | None]


# --- channels ---------------------------------------------------------------------------------


async def insert_channel(session: AsyncSession, values: dict[str, Any]) -> bool:
    """False when the organisation has a channel of that name already."""
    statement = (
        insert(session, Channel).values(**values).on_conflict_do_nothing().returning(Channel.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def get(session: AsyncSession, org_id: str, channel_id: str) -> Channel | None:
    statement = select(Channel).where(Channel.org_id == org_id, Channel.id == channel_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def by_name(session: AsyncSession, org_id: str, name: str) -> Channel | None:
    statement = select(Channel).where(Channel.org_id == org_id, Channel.name == name)
    return (await session.execute(statement)).scalar_one_or_none()


async def name_taken(session: AsyncSession, org_id: str, name: str, except_id: str) -> bool:
    statement = select(func.count()).where(
        Channel.org_id == org_id, Channel.name == name, Channel.id != except_id
    )
    return int((await session.execute(statement)).scalar_one()) > 0


async def page(
    session: AsyncSession, org_id: str, *, limit: int, offset: int
) -> tuple[list[Channel], int]:
    rows = (
        await session.execute(
            select(Channel)
            .where(Channel.org_id == org_id)
            .order_by(Channel.name, Channel.id)
            .limit(limit)
            .offset(offset)
        )
    ).scalars()
    total = (
        await session.execute(select(func.count()).where(Channel.org_id == org_id))
    ).scalar_one()
    return list(rows), int(total)


async def update_channel(session: AsyncSession, channel_id: str, values: dict[str, Any]) -> None:
    await session.execute(update(Channel).where(Channel.id == channel_id).values(**values))


async def remove(session: AsyncSession, org_id: str, channel_id: str) -> bool:
    statement = (
        delete(Channel)
        .where(Channel.org_id == org_id, Channel.id == channel_id)
        .returning(Channel.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def managed(session: AsyncSession) -> list[Channel]:
    """Every channel declared in configuration, across organisations."""
    return list((await session.execute(select(Channel).where(Channel.managed))).scalars())


async def backlog(session: AsyncSession, channel_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Deliveries per state, for each of these channels."""
    if not channel_ids:
        return {}
    rows = await session.execute(
        select(ChannelDelivery.channel_id, ChannelDelivery.state, func.count())
        .where(ChannelDelivery.channel_id.in_(channel_ids))
        .group_by(ChannelDelivery.channel_id, ChannelDelivery.state)
    )
    found: dict[str, dict[str, int]] = {}
    for channel_id, state, count in rows:
        found.setdefault(channel_id, {})[state] = int(count)
    return found


async def enabled_in(session: AsyncSession, org_ids: Iterable[str]) -> list[Channel]:
    statement = select(Channel).where(Channel.org_id.in_(list(org_ids)), Channel.enabled)
    return list((await session.execute(statement.order_by(Channel.id))).scalars())


async def lock_channel(session: AsyncSession, channel_id: str) -> Channel | None:
    """The channel, locked for this transaction; None when disabled, gone, or held by another
    worker (which is claiming for it right now: this one moves on to other channels)."""
    statement = (
        select(Channel)
        .where(Channel.id == channel_id, Channel.enabled)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def set_rate(session: AsyncSession, channel_id: str, tat: datetime) -> None:
    await session.execute(update(Channel).where(Channel.id == channel_id).values(rate_tat=tat))


async def hold_channel(session: AsyncSession, channel_id: str, until: datetime) -> None:
    """Push the channel's budget out to ``until`` (a receiver's Retry-After), never back."""
    await session.execute(
        update(Channel)
        .where(
            Channel.id == channel_id,
            (Channel.rate_tat.is_(None)) | (Channel.rate_tat < until),
        )
        .values(rate_tat=until)
    )


# --- outbox -----------------------------------------------------------------------------------


async def take_outbox(
    session: AsyncSession, limit: int
) -> list[tuple[ChannelOutbox, Change, str | None]]:
    """The oldest queued changes with their service names, locked until this transaction ends;
    rows another worker holds are skipped, not waited for."""
    statement = (
        select(ChannelOutbox, Change, Service.name)
        .join(Change, Change.id == ChannelOutbox.change_id)
        .outerjoin(Service, Service.id == Change.service_id)
        .order_by(ChannelOutbox.created_at, ChannelOutbox.change_id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=ChannelOutbox)
    )
    return [(row[0], row[1], row[2]) for row in (await session.execute(statement)).all()]


async def drop_outbox(session: AsyncSession, change_ids: Sequence[str]) -> None:
    await session.execute(delete(ChannelOutbox).where(ChannelOutbox.change_id.in_(change_ids)))


async def add_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert deliveries; one that exists for its channel and change already is left alone."""
    if rows:
        statement = insert(session, ChannelDelivery).values(rows)
        await session.execute(statement.on_conflict_do_nothing())


# --- claims and outcomes ----------------------------------------------------------------------


async def release_expired(session: AsyncSession, now: datetime) -> int:
    """Claims whose lease ran out (their worker died or hung) become pending again, marked as
    possibly delivered: the receiver may have got them before the worker went away."""
    result = await session.execute(
        update(ChannelDelivery)
        .where(ChannelDelivery.state == SENDING, ChannelDelivery.next_attempt_at < now)
        .values(state=PENDING, claim_id=None, maybe_delivered=True, updated_at=now)
        .returning(ChannelDelivery.id)
    )
    return len(result.all())


async def due_channels(
    session: AsyncSession, now: datetime, limit: int, *, resting: Sequence[str] = ()
) -> list[str]:
    """Enabled channels with due deliveries, the longest waiting first, except ``resting``
    ones (their budget is spent): those would otherwise take every slot of a round."""
    conditions = [
        ChannelDelivery.state == PENDING,
        ChannelDelivery.next_attempt_at <= now,
        Channel.enabled,
    ]
    if resting:
        conditions.append(ChannelDelivery.channel_id.not_in(resting))
    statement = (
        select(ChannelDelivery.channel_id)
        .join(Channel, Channel.id == ChannelDelivery.channel_id)
        .where(*conditions)
        .group_by(ChannelDelivery.channel_id)
        .order_by(func.min(ChannelDelivery.next_attempt_at))
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def due_deliveries(
    session: AsyncSession, channel_id: str, now: datetime, limit: int
) -> list[ChannelDelivery]:
    statement = (
        select(ChannelDelivery)
        .where(
            ChannelDelivery.channel_id == channel_id,
            ChannelDelivery.state == PENDING,
            ChannelDelivery.next_attempt_at <= now,
        )
        .order_by(ChannelDelivery.created_at, ChannelDelivery.id)
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def claim(
    session: AsyncSession,
    delivery_ids: Sequence[str],
    *,
    claim_id: str,
    message_id: str,
    lease_until: datetime,
    now: datetime,
) -> int:
    """Mark these deliveries as being sent under ``claim_id``; returns how many were still
    pending (only those are claimed)."""
    result = await session.execute(
        update(ChannelDelivery)
        .where(ChannelDelivery.id.in_(delivery_ids), ChannelDelivery.state == PENDING)
        .values(
            state=SENDING,
            claim_id=claim_id,
            message_id=message_id,
            message_size=len(delivery_ids),
            attempts=ChannelDelivery.attempts + 1,
            # While sending, next_attempt_at is the lease's end (see release_expired).
            next_attempt_at=lease_until,
            updated_at=now,
        )
        .returning(ChannelDelivery.id)
    )
    return len(result.all())


async def renew(session: AsyncSession, claim_id: str, lease_until: datetime) -> bool:
    """Extend a claim's lease; False when the claim is no longer this worker's (its lease ran
    out and the deliveries were released, perhaps claimed again by another worker)."""
    result = await session.execute(
        update(ChannelDelivery)
        .where(ChannelDelivery.claim_id == claim_id, ChannelDelivery.state == SENDING)
        .values(next_attempt_at=lease_until)
        .returning(ChannelDelivery.id)
    )
    return len(result.all()) > 0


async def claimed(
    session: AsyncSession, claim_id: str
) -> list[tuple[ChannelDelivery, Change | None, str | None]]:
    statement = (
        select(ChannelDelivery, Change, Service.name)
        .outerjoin(Change, Change.id == ChannelDelivery.change_id)
        .outerjoin(Service, Service.id == Change.service_id)
        .where(ChannelDelivery.claim_id == claim_id, ChannelDelivery.state == SENDING)
        .order_by(ChannelDelivery.created_at, ChannelDelivery.id)
    )
    return [(row[0], row[1], row[2]) for row in (await session.execute(statement)).all()]


async def finish(
    session: AsyncSession, claim_id: str, values: dict[str, Any], *, expired_before: datetime | None
) -> list[tuple[str, datetime]]:
    """Record an outcome for the deliveries still held by ``claim_id``.

    With ``expired_before``, only deliveries whose ``give_up_at`` is before it are touched (the
    ones a failure dead-letters); returns (change or delivery id, created_at) of each row.
    """
    conditions = [ChannelDelivery.claim_id == claim_id, ChannelDelivery.state == SENDING]
    if expired_before is not None:
        conditions.append(ChannelDelivery.give_up_at <= expired_before)
    result = await session.execute(
        update(ChannelDelivery)
        .where(*conditions)
        .values(**values)
        .returning(ChannelDelivery.id, ChannelDelivery.created_at)
    )
    return [(row[0], row[1]) for row in result.all()]


async def add_delivery(session: AsyncSession, delivery: ChannelDelivery) -> None:
    session.add(delivery)
    await session.flush()


# --- the delivery log -------------------------------------------------------------------------


async def deliveries_page(
    session: AsyncSession,
    channel_id: str,
    *,
    state: str | None,
    limit: int,
    offset: int,
) -> tuple[list[ChannelDelivery], int]:
    conditions = [ChannelDelivery.channel_id == channel_id]
    if state is not None:
        conditions.append(ChannelDelivery.state == state)
    rows = (
        await session.execute(
            select(ChannelDelivery)
            .where(*conditions)
            .order_by(ChannelDelivery.created_at.desc(), ChannelDelivery.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).scalars()
    total = (await session.execute(select(func.count()).where(*conditions))).scalar_one()
    return list(rows), int(total)


async def redeliver(
    session: AsyncSession,
    channel_id: str,
    delivery_ids: Sequence[str] | None,
    *,
    now: datetime,
    give_up_at: datetime,
) -> int:
    """Dead deliveries of a channel back to pending, as new messages (test messages stay)."""
    conditions = [
        ChannelDelivery.channel_id == channel_id,
        ChannelDelivery.state == DEAD,
        ChannelDelivery.change_id.is_not(None),
    ]
    if delivery_ids is not None:
        conditions.append(ChannelDelivery.id.in_(delivery_ids))
    result = await session.execute(
        update(ChannelDelivery)
        .where(*conditions)
        .values(
            state=PENDING,
            message_id=None,
            claim_id=None,
            maybe_delivered=False,
            next_attempt_at=now,
            give_up_at=give_up_at,
            updated_at=now,
        )
        .returning(ChannelDelivery.id)
    )
    return len(result.all())


async def prune(session: AsyncSession, before: datetime) -> int:
    """Forget finished deliveries older than ``before`` (the log's retention). A finished
    delivery's ``next_attempt_at`` is when it finished, so the due index serves this too."""
    result = await session.execute(
        delete(ChannelDelivery)
        .where(
            ChannelDelivery.state.in_((DELIVERED, DEAD)),
            ChannelDelivery.next_attempt_at < before,
        )
        .returning(ChannelDelivery.id)
    )
    return len(result.all())


async def unfinished_counts(session: AsyncSession) -> dict[str, int]:
    """Pending, sending and dead deliveries (delivered ones, the bulk, are not counted)."""
    rows = await session.execute(
        select(ChannelDelivery.state, func.count())
        .where(ChannelDelivery.state.in_((PENDING, SENDING, DEAD)))
        .group_by(ChannelDelivery.state)
    )
    return {state: int(count) for state, count in rows}


# An advisory lock id for applying the declared channels; any constant, the same everywhere.
_DECLARATIONS_LOCK_ID = 0x6368616E6E6C


async def lock_declarations(session: AsyncSession) -> None:
    """PostgreSQL: replicas apply the declared channels one at a time (until commit)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:id)"), {"id": _DECLARATIONS_LOCK_ID}
        )
