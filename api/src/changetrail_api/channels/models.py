"""Channels, the outbox a recorded change enters, and one delivery per channel and change.

A change's way out, table by table:

1. ``channel_outbox``: one row per change, written by the statement that stores the change,
   so a change is queued exactly when it is committed (and only when its organisation has an
   enabled channel).
2. ``channel_deliveries``: the worker turns each outbox row into one row per channel whose
   rules select the change, and deletes the outbox row, in one transaction. The unique
   ``(channel_id, change_id)`` makes that fan-out idempotent.
3. A delivery is ``pending`` until a worker claims it (``sending``, with a lease), then
   ``delivered`` or back to ``pending`` with a later ``next_attempt_at``, or ``dead`` when the
   receiver refused it or its ``give_up_at`` passed. Deliveries sent together as one message
   (a digest) share a ``message_id``, kept across retries so a receiver sees the same id again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from changetrail_api.base import Base, JSONType, UTCDateTime


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        # The outbox write asks "does this organisation have an enabled channel?" per change.
        Index("ix_channels_org_enabled", "org_id", "enabled"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean)
    # A list of rule objects (see channels.rules); empty selects every change.
    rules: Mapped[list[Any]] = mapped_column(JSONType)
    # Options that are not secret (a Grafana dashboard to annotate, ...).
    options: Mapped[dict[str, Any]] = mapped_column(JSONType)
    max_per_minute: Mapped[int] = mapped_column(Integer)
    # URL, routing key, token and signing secret, encrypted together (channels.sealing); the
    # host alone is kept in clear so a list can show where a channel points.
    sealed: Mapped[str] = mapped_column(Text)
    destination_host: Mapped[str] = mapped_column(String(255))
    # Declared in the Helm values (CHANGETRAIL_CHANNELS_FILE): read-only through the API.
    managed: Mapped[bool] = mapped_column(Boolean)
    # The rate limiter's state: when the channel's budget is whole again (GCRA's theoretical
    # arrival time). Pushed forward by each message and by a receiver's Retry-After.
    rate_tat: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelOutbox(Base):
    __tablename__ = "channel_outbox"
    __table_args__ = (Index("ix_channel_outbox_created", "created_at"),)

    change_id: Mapped[str] = mapped_column(
        ForeignKey("changes.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelDelivery(Base):
    __tablename__ = "channel_deliveries"
    __table_args__ = (
        UniqueConstraint("channel_id", "change_id"),
        # What is due: pending rows by next attempt, and sending rows whose lease ran out (a
        # claim sets next_attempt_at to the lease's end).
        Index("ix_channel_deliveries_due", "state", "next_attempt_at"),
        # A channel's delivery log, newest first.
        Index("ix_channel_deliveries_log", "channel_id", "created_at", "id"),
        Index("ix_channel_deliveries_claim", "claim_id"),
        Index("ix_channel_deliveries_change", "change_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(40))
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    # None for a test message.
    change_id: Mapped[str | None] = mapped_column(ForeignKey("changes.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str | None] = mapped_column(String(40))
    # Set by each claim: a worker records its outcome only while its claim still holds.
    claim_id: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(Integer)
    # True once an attempt may have reached the receiver without us learning the answer (a
    # timeout after sending, a worker gone mid-call): the next attempt checks before resending
    # where the receiver allows it.
    maybe_delivered: Mapped[bool] = mapped_column(Boolean)
    message_size: Mapped[int] = mapped_column(Integer)
    # Pending: when it is due. Sending: when the claim's lease ends. Delivered or dead: when it
    # finished (the log's retention counts from there).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    give_up_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
