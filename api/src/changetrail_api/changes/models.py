from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column

from changetrail_api.base import Base, JSONType, UTCDateTime


class Change(Base):
    __tablename__ = "changes"
    __table_args__ = (
        # Idempotency is a constraint, not a look-up: retries and redeliveries collide here.
        UniqueConstraint("org_id", "source", "external_id"),
        UniqueConstraint("org_id", "idempotency_key"),
        # Every list is "newest first within an org", optionally narrowed by one column.
        Index("ix_changes_org_created", "org_id", "created_at", "id"),
        Index("ix_changes_org_service_created", "org_id", "service_id", "created_at", "id"),
        Index("ix_changes_org_type_created", "org_id", "change_type", "created_at", "id"),
        Index("ix_changes_org_env_created", "org_id", "environment", "created_at", "id"),
        Index("ix_changes_org_source_created", "org_id", "source", "created_at", "id"),
        Index("ix_changes_org_occurred", "org_id", "occurred_at", "id"),
        # "Which rollouts failed / are still running": lists filter on the outcome.
        Index("ix_changes_org_outcome_created", "org_id", "outcome", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    service_id: Mapped[str | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), default=None
    )
    change_type: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(100))
    commit_sha: Mapped[str | None] = mapped_column(String(100))
    commit_message: Mapped[str | None] = mapped_column(Text)
    branch: Mapped[str | None] = mapped_column(String(255))
    pr_number: Mapped[str | None] = mapped_column(String(50))
    pr_url: Mapped[str | None] = mapped_column(String(2048))
    pipeline_url: Mapped[str | None] = mapped_column(String(2048))
    environment: Mapped[str] = mapped_column(String(100))
    risk_level: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[str | None] = mapped_column(String(255))
    external_id: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    tags: Mapped[list[Any]] = mapped_column(JSONType)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # How the change ended (domain.Outcome): the only fields a completion may set later, with
    # ended_at. Nothing else of a recorded change is ever rewritten.
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_reason: Mapped[str | None] = mapped_column(String(255))


# Text search (``q``) on PostgreSQL: trigrams of exactly what the text filter compares, so a
# ``LIKE '%text%'`` on either finds its rows through the index. Migration 0009 creates them
# where pg_trgm can be had; SQLite has none. 0010 bounds their pending lists (see there).
for _name, _expression in (
    ("ix_changes_summary_trgm", func.lower(Change.summary)),
    ("ix_changes_description_trgm", func.lower(func.coalesce(Change.description, ""))),
):
    Index(
        _name,
        _expression.label("searched"),
        postgresql_using="gin",
        postgresql_ops={"searched": "gin_trgm_ops"},
        postgresql_with={"gin_pending_list_limit": 1024},
    ).ddl_if(dialect="postgresql")


# Columns that stay inside the API: the tenant, and the Idempotency-Key a post was replayed with.
PRIVATE_COLUMNS = frozenset({"org_id", "idempotency_key"})
# Every other column is part of a change as clients see it, in the table's order. Responses are
# built from this list, so a new column needs no further edit to reach them.
PUBLIC_COLUMNS = tuple(
    column.key for column in inspect(Change).column_attrs if column.key not in PRIVATE_COLUMNS
)


class ChangeTag(Base):
    """One row per tag, so "has all of these tags" is an indexed look-up on both backends."""

    __tablename__ = "change_tags"
    __table_args__ = (Index("ix_change_tags_org_tag", "org_id", "tag", "change_id"),)

    change_id: Mapped[str] = mapped_column(
        ForeignKey("changes.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(40))


class ChangeCounter(Base):
    """Exact change counts per organisation, per tag and per UTC day.

    ``meta.total`` of an unfiltered or single-tag list is a sum over a few rows instead of a
    ``count(*)`` over millions; day counts let deep pages seek. Each insert bumps one of
    ``COUNTER_SHARDS`` rows per key, chosen at random, so concurrent writers rarely wait on the
    same row lock.
    """

    __tablename__ = "change_counters"

    org_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ChangeComboCounter(Base):
    """Exact change counts per combination of service, type, environment and source.

    Any list narrowed by equality on some of these four columns sums the matching rows here
    (a few per combination in use) instead of counting changes. Sharded like ChangeCounter.
    """

    __tablename__ = "change_combo_counters"

    org_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "" for none
    change_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    environment: Mapped[str] = mapped_column(String(100), primary_key=True)
    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
