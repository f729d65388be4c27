"""Recording and reading changes. Never commits: the request's session does."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Literal

from sqlalchemy import Connection, RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import new_id, utcnow_ms
from changetrail_api.changes import repository
from changetrail_api.changes.filters import ChangeFilters
from changetrail_api.changes.group_commit import GroupCommit
from changetrail_api.changes.models import PUBLIC_COLUMNS, Change
from changetrail_api.changes.schemas import ENDED, ChangeCompletion, ChangeCreate, ChangeOut
from changetrail_api.db import Database
from changetrail_api.domain import ChangeDraft, Outcome, RiskLevel
from changetrail_api.errors import FieldError, NotFoundError, ProblemError
from changetrail_api.metrics import CHANGES_RECORDED, source_label
from changetrail_api.trusted import built


def to_out(change: Change, service_name: str | None) -> ChangeOut:
    """A stored change as responses show it: each public column by name, and its service's name."""
    values = {name: getattr(change, name) for name in PUBLIC_COLUMNS}
    return ChangeOut.model_validate({**values, "service_name": service_name})


def row_out(row: Mapping[str, Any] | RowMapping) -> ChangeOut:
    """A change read as a row (its columns and ``service_name``) as responses show it.

    Built without validating again: every value comes from a column of its declared type.
    """
    return built(ChangeOut, {name: row[name] for name in _OUT_FIELDS})


_OUT_FIELDS = tuple(ChangeOut.model_fields)


async def record(
    session: AsyncSession,
    org_id: str,
    payload: ChangeCreate,
    *,
    idempotency_key: str | None = None,
) -> tuple[ChangeOut, bool]:
    """``record_in`` on the session's connection, in its transaction."""
    return await session.run_sync(
        lambda s: record_in(s.connection(), org_id, payload, idempotency_key=idempotency_key)
    )


def record_in(
    connection: Connection,
    org_id: str,
    payload: ChangeCreate,
    *,
    idempotency_key: str | None = None,
) -> tuple[ChangeOut, bool]:
    """Store a change unless it exists already; returns it and whether it is new.

    Idempotency rests on unique constraints and ``ON CONFLICT DO NOTHING``: two concurrent
    posts of the same ``external_id`` cannot both insert.
    """
    service_name: str | None = None
    if payload.service_id is not None:
        service_name = repository.service_name_in(connection, org_id, payload.service_id)
        if service_name is None:
            raise FieldError(
                "service_id", f"no service {payload.service_id!r} in this organisation"
            )
    now = utcnow_ms()
    _check_end(payload, now)
    values = _values(payload, org_id, now, idempotency_key)
    if repository.insert_new_in(connection, values, payload.tags):
        _count_recorded(values)
        return row_out({**values, "service_name": service_name}), True
    existing = repository.find_existing_in(
        connection,
        org_id,
        source=payload.source,
        external_id=payload.external_id,
        idempotency_key=values["idempotency_key"],
    )
    return _replayed(existing, values), False


# One new change to store: its row and its tags.
NewChange = tuple[dict[str, Any], Sequence[str]]


class ChangeWriter:
    """``record_in`` for the request path: single posts stored in groups (``group_commit``).

    Each post is validated, checked and answered on its own; what arrives together is stored
    together, in one statement on PostgreSQL (psycopg's own connection, autocommit) and one
    transaction on SQLite (``Database.write``), with its service checked in the same step.
    Only a replayed key costs a second look-up, for the change it names.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._groups: GroupCommit[NewChange, repository.Stored] = GroupCommit(self._store)

    async def record(
        self, org_id: str, payload: ChangeCreate, *, idempotency_key: str | None = None
    ) -> tuple[ChangeOut, bool]:
        now = utcnow_ms()
        _check_end(payload, now)
        values = _values(payload, org_id, now, idempotency_key)
        inserted, service_name = await self._groups.submit((values, payload.tags))
        if payload.service_id is not None and service_name is None:
            raise FieldError(
                "service_id", f"no service {payload.service_id!r} in this organisation"
            )
        if inserted:
            _count_recorded(values)
            return row_out({**values, "service_name": service_name}), True
        existing = await self._database.read(
            partial(
                repository.find_existing_in,
                org_id=org_id,
                source=payload.source,
                external_id=payload.external_id,
                idempotency_key=values["idempotency_key"],
            )
        )
        return _replayed(existing, values), False

    async def _store(self, group: Sequence[NewChange]) -> list[repository.Stored]:
        # The same keys in the same order in every group, so two groups holding the same two
        # keys cannot each wait for the other's first insert.
        ordered = sorted(group, key=_key_order)
        if self._database.is_postgresql:
            stored = await self._database.on_postgresql(
                partial(repository.store_many_with_driver, rows=ordered)
            )
        else:
            stored = await self._database.write(partial(repository.store_many_in, rows=ordered))
        by_id = {values["id"]: result for (values, _), result in zip(ordered, stored, strict=True)}
        return [by_id[values["id"]] for values, _ in group]


def _key_order(change: NewChange) -> tuple[str, ...]:
    values = change[0]
    return (
        values["org_id"],
        values["source"],
        values["external_id"] or "",
        values["idempotency_key"] or "",
    )


def _replayed(existing: RowMapping | None, values: dict[str, Any]) -> ChangeOut:
    """The change an idempotency key named, checked against the replay that named it."""
    if existing is None:
        # A conflict on a key this request did not carry cannot happen; treat it as a clash.
        raise FieldError("external_id", "conflicts with an existing change")
    if values["idempotency_key"] is not None:
        _check_replay(existing, values)
    return row_out(existing)


def _check_end(payload: ChangeCreate, now: datetime) -> None:
    if payload.ended_at is not None and payload.ended_at < (payload.occurred_at or now):
        # Without occurred_at the change happened now, so an end in the past is a mistake too.
        raise FieldError("ended_at", "must not be before occurred_at (default: now)")


def _values(
    payload: ChangeCreate, org_id: str, now: datetime, idempotency_key: str | None
) -> dict[str, Any]:
    """The row of a new change: the payload, its id, its tenant and its times."""
    # The validated fields as they are (model_dump would copy each of them first; nothing
    # here changes them), then what the row adds.
    values: dict[str, Any] = dict(payload.__dict__)
    values.update(
        id=new_id("chg"),
        org_id=org_id,
        change_type=str(payload.change_type),
        risk_level=str(payload.risk_level),
        occurred_at=payload.occurred_at or now,
        created_at=now,
        idempotency_key=None if payload.external_id else idempotency_key,
    )
    return values


def _count_recorded(*recorded: dict[str, Any]) -> None:
    """changetrail_changes_recorded_total, one increment per type and source (a batch's
    thousand changes are a few label look-ups, not a thousand)."""
    counts = Counter((values["change_type"], values["source"]) for values in recorded)
    for (change_type, source), count in counts.items():
        CHANGES_RECORDED.labels(change_type=change_type, source=source_label(source)).inc(count)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What became of one item of a batch: its status, and the change or the errors."""

    status: Literal["created", "existing", "invalid"]
    change: ChangeOut | None = None
    errors: list[dict[str, str]] | None = None


BatchItem = ChangeCreate | list[dict[str, str]]


async def record_batch(
    database: Database, org_id: str, items: Sequence[BatchItem]
) -> list[BatchResult]:
    """Store the valid items of a batch, in request order; an item is a payload or its errors.

    Each item is checked as ``record`` checks a single change (its service, its end); the valid
    ones are stored together, in one transaction (on SQLite's writer thread: a batch takes
    longer than the loop should be held). An item whose (source, external_id) was recorded
    already, by an earlier request or an earlier item of this batch, is ``existing`` and names
    that change.
    """
    work = partial(_record_batch_in, org_id=org_id, items=items, now=utcnow_ms())
    return await database.write(work, large=True)


def _record_batch_in(
    connection: Connection, org_id: str, items: Sequence[BatchItem], now: datetime
) -> list[BatchResult]:
    wanted = sorted({i.service_id for i in items if isinstance(i, ChangeCreate) and i.service_id})
    names = repository.service_names_in(connection, org_id, wanted)
    results: list[BatchResult | None] = [None] * len(items)
    # index -> row to insert; index -> index of the first item with the same key.
    rows: dict[int, dict[str, Any]] = {}
    repeats: dict[int, int] = {}
    first_with_key: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, ChangeCreate):
            results[index] = BatchResult("invalid", errors=item)
            continue
        try:
            if item.service_id is not None and item.service_id not in names:
                raise FieldError(
                    "service_id", f"no service {item.service_id!r} in this organisation"
                )
            _check_end(item, now)
        except FieldError as error:
            results[index] = BatchResult("invalid", errors=error.errors)
            continue
        if item.external_id is not None:
            key = (item.source, item.external_id)
            if key in first_with_key:
                repeats[index] = first_with_key[key]
                continue
            first_with_key[key] = index
        rows[index] = _values(item, org_id, now, None)
    stored = repository.insert_many_in(
        connection, [(values, values["tags"]) for values in rows.values()]
    )
    _count_recorded(*(values for values in rows.values() if values["id"] in stored))
    for index, values in rows.items():
        if values["id"] in stored:
            name = names.get(values["service_id"]) if values["service_id"] else None
            results[index] = BatchResult(
                "created", change=row_out({**values, "service_name": name})
            )
            continue
        existing = repository.find_existing_in(
            connection,
            org_id,
            source=values["source"],
            external_id=values["external_id"],
            idempotency_key=None,
        )
        if existing is None:
            # Only a key this item carries can conflict; an id clash would land here.
            clash = FieldError("external_id", "conflicts with an existing change")
            results[index] = BatchResult("invalid", errors=clash.errors)
        else:
            results[index] = BatchResult("existing", change=row_out(existing))
    for index, first in repeats.items():
        earlier = results[first]
        assert earlier is not None
        # The first item's fate is the repeat's: its change, or (were it refused) its errors.
        results[index] = (
            BatchResult("existing", change=earlier.change) if earlier.change else earlier
        )
    return [result for result in results if result is not None]


# What a retry with the same Idempotency-Key repeats. A key reused for another change (another
# service's path, another summary) is a client's mistake; answering with the first change would
# hide it. Fields a change may gain after it is recorded are not compared.
_REPLAYED_FIELDS = ("service_id", "change_type", "source", "summary", "environment")


def _check_replay(stored: RowMapping, values: dict[str, Any]) -> None:
    differing = [name for name in _REPLAYED_FIELDS if stored[name] != values[name]]
    if differing:
        raise FieldError(
            "Idempotency-Key",
            f"was first used for a different change ({', '.join(differing)} differ); "
            "send a new key for a new change",
        )


def draft_to_create(draft: ChangeDraft, *, default_environment: str | None) -> ChangeCreate:
    """A producer's draft, with the contract's defaults, as if it had been posted."""
    # Every field a post accepts, taken by name; the draft's service_name is a hint for the
    # caller, not a field of the change.
    values = {name: getattr(draft, name) for name in ChangeCreate.model_fields}
    values.update(
        summary=draft.summary[:500] or "(no summary)",
        source=draft.source or "webhook",
        environment=draft.environment or default_environment or "production",
        risk_level=draft.risk_level or RiskLevel.LOW,
    )
    return ChangeCreate.model_validate(values)


async def get(session: AsyncSession, org_id: str, change_id: str) -> ChangeOut:
    found = await repository.get(session, org_id, change_id)
    if found is None:
        raise NotFoundError("change", change_id)
    return to_out(*found)


async def complete(
    session: AsyncSession, org_id: str, change_id: str, completion: ChangeCompletion
) -> ChangeOut:
    """Record how a change ended: its outcome, ``ended_at`` and why; nothing else changes.

    Idempotent: completing an ended change again with the same outcome returns it as it was
    (the first ``ended_at`` stands); a different outcome is a conflict. Only the source that
    recorded the change may complete it.
    """
    found = await repository.get(session, org_id, change_id)
    if found is None:
        raise NotFoundError("change", change_id)
    change, service_name = found
    if completion.source != change.source:
        raise FieldError(
            "source", f"the change was recorded by {change.source!r}; only that source ends it"
        )
    values: dict[str, Any] = {"outcome": str(completion.outcome)}
    if completion.outcome_reason is not None:
        values["outcome_reason"] = completion.outcome_reason
    if completion.outcome in ENDED:
        ended_at = completion.ended_at or utcnow_ms()
        if ended_at < change.occurred_at:
            raise FieldError("ended_at", "must not be before the change's occurred_at")
        values["ended_at"] = ended_at
    if not await repository.complete(session, org_id, change_id, values, [Outcome.IN_PROGRESS]):
        # It has ended already, maybe just now by a concurrent request: read what it became.
        await session.refresh(change)
        if change.outcome != str(completion.outcome):
            raise ProblemError(
                409, f"the change ended as {change.outcome!r} already; an outcome is final"
            )
        return to_out(change, service_name)
    for name, value in values.items():
        setattr(change, name, value)
    # How it ended may be what a channel waits for (a failed rollout): queued again, in this
    # transaction; a channel that had the change already does not get it twice.
    await repository.queue_for_channels(session, org_id, change_id, change.created_at)
    return to_out(change, service_name)


async def list_changes(
    session: AsyncSession, org_id: str, filters: ChangeFilters, *, limit: int, offset: int
) -> tuple[list[ChangeOut], int]:
    """``list_in`` on the session's connection."""
    return await session.run_sync(
        lambda s: list_in(s.connection(), org_id, filters, limit=limit, offset=offset)
    )


async def list_with(
    database: Database, org_id: str, filters: ChangeFilters, *, limit: int, offset: int
) -> tuple[list[ChangeOut], int]:
    """``list_in`` through the request path's Database.

    On PostgreSQL the page and the total are read at once, on two pooled connections: the
    count is most of a filtered list's time at scale, and the two need not wait for each
    other (each statement reads its own snapshot either way, in autocommit).
    """
    if not database.is_postgresql or repository.is_deep(filters, offset):
        work = partial(list_in, org_id=org_id, filters=filters, limit=limit, offset=offset)
        return await database.read(work)
    shape = repository.list_shape(filters)
    values = repository.page_parameters(org_id, filters, limit=limit, offset=offset)
    rows, counted = await asyncio.gather(
        database.fetch_on_postgresql(repository.page_statement(shape), values),
        database.fetch_on_postgresql(repository.count_statement(shape), values),
    )
    [[total]] = [list(row.values()) for row in counted]
    return [row_out(row) for row in rows], int(total)


def list_in(
    connection: Connection, org_id: str, filters: ChangeFilters, *, limit: int, offset: int
) -> tuple[list[ChangeOut], int]:
    """A page of changes and the exact total of the list."""
    rows = repository.page_in(connection, org_id, filters, limit=limit, offset=offset)
    if offset == 0 and len(rows) < limit:
        total = len(rows)  # the whole result fits on this page: no count needed
    else:
        total = repository.count_in(connection, org_id, filters)
    return [row_out(row) for row in rows], total


async def forget_service(session: AsyncSession, org_id: str, service_id: str) -> None:
    """Before a service is deleted: its changes stay, counted from now on as without a service."""
    await repository.forget_service_counters(session, org_id, service_id)


async def histogram(
    session: AsyncSession, org_id: str, filters: ChangeFilters, edges: Sequence[datetime]
) -> dict[str, list[int]]:
    """Per change type, how many changes matching ``filters`` fall in each bar.

    Bar ``i`` is [edges[i], edges[i + 1]) of ``created_at``, the instant lists are filtered
    by; types with no change in any bar are left out. What ``list_changes`` would count for
    each bar, in one query.
    """
    bars = max(len(edges) - 1, 0)
    per_type: dict[str, list[int]] = {}
    for bar, change_type, count in await repository.histogram(session, org_id, filters, edges):
        per_type.setdefault(change_type, [0] * bars)[bar] += count
    return per_type
