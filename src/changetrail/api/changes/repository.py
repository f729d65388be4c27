"""All SQL about changes."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail.api.changes.models import Change, ChangeCounter, ChangeTag
from changetrail.api.services.models import Service
from changetrail.api.upsert import cached_statement, insert

COUNTER_SHARDS = 8
# The columns whose single-value filters have exact counters (see ChangeCounter).
COUNTED_DIMENSIONS = ("service_id", "change_type", "environment", "source")


@dataclass(frozen=True, slots=True)
class ChangeFilters:
    service_id: str | None = None
    change_type: str | None = None
    source: str | None = None
    environment: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    risk_level: str | None = None
    changed_by: str | None = None
    tags: tuple[str, ...] = ()
    q: str | None = None
    external_id: str | None = None
    sort: str = "created_at"

    def counted_dimension(self) -> tuple[str, str] | None:
        """The one counted column this filter narrows by, ("all", "") for none; None otherwise."""
        uncounted = (
            self.start,
            self.end,
            self.risk_level,
            self.changed_by,
            self.q,
            self.external_id,
        )
        if any(v is not None for v in uncounted) or self.tags:
            return None
        used = [(d, getattr(self, d)) for d in COUNTED_DIMENSIONS if getattr(self, d) is not None]
        if not used:
            return ("all", "")
        if len(used) == 1:
            return used[0]
        return None


def _insert_change(session: AsyncSession) -> Any:
    return insert(session, Change).on_conflict_do_nothing().returning(Change.id)


def _insert_tags(session: AsyncSession) -> Any:
    return insert(session, ChangeTag)


def _bump_counter(session: AsyncSession) -> Any:
    statement = insert(session, ChangeCounter)
    return statement.on_conflict_do_update(
        index_elements=["org_id", "dimension", "value", "shard"],
        set_={"count": ChangeCounter.count + 1},
    )


async def insert_if_new(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert unless an idempotency constraint says it exists; True when inserted."""
    statement = cached_statement(session, _insert_change)
    inserted = (await session.execute(statement, values)).scalar_one_or_none()
    return inserted is not None


async def insert_tags(
    session: AsyncSession, org_id: str, change_id: str, tags: Sequence[str]
) -> None:
    if tags:
        await session.execute(
            cached_statement(session, _insert_tags),
            [{"change_id": change_id, "tag": t, "org_id": org_id} for t in tags],
        )


async def bump_counters(session: AsyncSession, org_id: str, values: dict[str, Any]) -> None:
    keys = [("all", "")] + [
        (d, str(values[d])) for d in COUNTED_DIMENSIONS if values.get(d) is not None
    ]
    shard = random.randrange(COUNTER_SHARDS)  # noqa: S311 - spreading lock contention, not security
    rows = [
        {"org_id": org_id, "dimension": d, "value": v, "shard": shard, "count": 1}
        for d, v in sorted(keys)  # a fixed order, so concurrent writers cannot deadlock
    ]
    await session.execute(cached_statement(session, _bump_counter), rows)


async def forget_service_counters(session: AsyncSession, org_id: str, service_id: str) -> None:
    await session.execute(
        delete(ChangeCounter).where(
            ChangeCounter.org_id == org_id,
            ChangeCounter.dimension == "service_id",
            ChangeCounter.value == service_id,
        )
    )


async def find_existing(
    session: AsyncSession,
    org_id: str,
    *,
    source: str,
    external_id: str | None,
    idempotency_key: str | None,
) -> tuple[Change, str | None] | None:
    if external_id is not None:
        condition = and_(Change.source == source, Change.external_id == external_id)
    elif idempotency_key is not None:
        condition = Change.idempotency_key == idempotency_key
    else:
        return None
    return await _one(session, and_(Change.org_id == org_id, condition))


async def get(
    session: AsyncSession, org_id: str, change_id: str
) -> tuple[Change, str | None] | None:
    return await _one(session, and_(Change.org_id == org_id, Change.id == change_id))


async def _one(
    session: AsyncSession, condition: ColumnElement[bool]
) -> tuple[Change, str | None] | None:
    statement = (
        select(Change, Service.name)
        .outerjoin(Service, Service.id == Change.service_id)
        .where(condition)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else (row[0], row[1])


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(org_id: str, filters: ChangeFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Change.org_id == org_id]
    for column in (
        "service_id",
        "change_type",
        "source",
        "environment",
        "risk_level",
        "changed_by",
        "external_id",
    ):
        value = getattr(filters, column)
        if value is not None:
            conditions.append(getattr(Change, column) == value)
    if filters.start is not None:
        conditions.append(Change.created_at >= filters.start)
    if filters.end is not None:
        conditions.append(Change.created_at < filters.end)
    for tag in filters.tags:
        conditions.append(
            exists().where(
                ChangeTag.org_id == org_id, ChangeTag.change_id == Change.id, ChangeTag.tag == tag
            )
        )
    if filters.q:
        pattern = f"%{_escape_like(filters.q.lower())}%"
        conditions.append(
            or_(
                func.lower(Change.summary).like(pattern, escape="\\"),
                func.lower(func.coalesce(Change.description, "")).like(pattern, escape="\\"),
            )
        )
    return conditions


async def count(session: AsyncSession, org_id: str, filters: ChangeFilters) -> int:
    dimension = filters.counted_dimension()
    if dimension is not None:
        statement = select(func.coalesce(func.sum(ChangeCounter.count), 0)).where(
            ChangeCounter.org_id == org_id,
            ChangeCounter.dimension == dimension[0],
            ChangeCounter.value == dimension[1],
        )
    else:
        statement = select(func.count()).select_from(Change).where(*_conditions(org_id, filters))
    return int((await session.execute(statement)).scalar_one())


async def page(
    session: AsyncSession, org_id: str, filters: ChangeFilters, *, limit: int, offset: int
) -> list[tuple[Change, str | None]]:
    sort_column = Change.occurred_at if filters.sort == "occurred_at" else Change.created_at
    # Deferred join: walk the (narrow) index to find the page's ids, then fetch only those rows.
    # Skipping deep offsets then touches index entries, not whole rows.
    ids = (
        select(Change.id, sort_column.label("sort_key"))
        .where(*_conditions(org_id, filters))
        .order_by(sort_column.desc(), Change.id.desc())
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    statement = (
        select(Change, Service.name)
        .join(ids, ids.c.id == Change.id)
        .outerjoin(Service, Service.id == Change.service_id)
        .order_by(ids.c.sort_key.desc(), Change.id.desc())
    )
    return [(row[0], row[1]) for row in (await session.execute(statement)).all()]
