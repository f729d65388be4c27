"""All SQL about changes."""

from __future__ import annotations

import contextlib
import functools
import json
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    TextClause,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api import json_safety
from changetrail_api.base import UTCDateTime, naive_utc
from changetrail_api.changes.filters import ChangeFilters as ChangeFilters
from changetrail_api.changes.models import Change, ChangeComboCounter, ChangeCounter, ChangeTag
from changetrail_api.channels.models import Channel, ChannelOutbox
from changetrail_api.services.models import Service
from changetrail_api.upsert import insert

COUNTER_SHARDS = 8
# The columns whose equality filters have exact counters (see ChangeComboCounter).
COUNTED_COLUMNS = ("service_id", "change_type", "environment", "source")


def _counter(shape: ListShape) -> tuple[str, tuple[str, ...]] | None:
    """Where an exact total for lists of this shape can be summed instead of counted, if anywhere.

    ("all", ()) unfiltered, ("tag", ()) for one tag alone, ("combo", columns) for equality on
    some of service, type, environment and source; None otherwise.
    """
    uncounted = set(shape.equal) - set(COUNTED_COLUMNS)
    if uncounted or shape.start or shape.end or shape.q:
        return None
    columns = tuple(c for c in COUNTED_COLUMNS if c in shape.equal)
    if shape.tags:
        return ("tag", ()) if shape.tags == 1 and not columns else None
    return ("combo", columns) if columns else ("all", ())


def _counter_keys(values: dict[str, Any], tags: Sequence[str]) -> list[tuple[str, str]]:
    """The counters one new change bumps: all, its UTC day, each tag."""
    keys = [("all", ""), ("day", values["created_at"].date().isoformat())]
    keys += [("tag", tag) for tag in tags]
    return sorted(keys)  # a fixed order, so concurrent writers cannot deadlock


# The channels' outbox (channels.models): a new change is queued for notification in its own
# transaction, so it is queued exactly when it is committed. Only organisations with an enabled
# channel pay for it; the channels worker takes it from there.
_QUEUE_FOR_CHANNELS = f"""
    INSERT INTO {ChannelOutbox.__tablename__} (change_id, org_id, created_at)
    SELECT {{change_id}}, CAST(:org_id AS VARCHAR(40)), :created_at {{source}}
    WHERE EXISTS (
        SELECT 1 FROM {Channel.__tablename__} AS c
        WHERE c.org_id = CAST(:org_id AS VARCHAR(40)) AND c.enabled
    )
    ON CONFLICT DO NOTHING
"""  # noqa: S608 - table names come from the models, values are bound parameters


def _queue_for_channels() -> TextClause:
    """The outbox row alone, as one more statement of the change's transaction."""
    # Typed, since PostgreSQL cannot tell a parameter's type from a bare SELECT list.
    sql = _QUEUE_FOR_CHANNELS.format(change_id="CAST(:change_id AS VARCHAR(40))", source="")
    return text(sql).bindparams(bindparam("created_at", type_=UTCDateTime()))


_QUEUE_STATEMENT = _queue_for_channels()


async def queue_for_channels(
    session: AsyncSession, org_id: str, change_id: str, created_at: datetime
) -> None:
    """Queue a stored change for the channels again (when something about it changed).

    Channels that received it already are not sent it twice: a delivery is unique per channel
    and change.
    """
    await session.execute(
        _QUEUE_STATEMENT, {"change_id": change_id, "org_id": org_id, "created_at": created_at}
    )


def _stored_time(value: datetime | None) -> str | None:
    """What UTCDateTime stores, as the document carries it: naive UTC in ISO 8601."""
    return None if value is None else naive_utc(value).isoformat()


def _document_row(values: dict[str, Any]) -> dict[str, Any]:
    """A change's row as the JSON document of ``store_many_with_driver`` carries it."""
    return {
        **values,
        "occurred_at": _stored_time(values["occurred_at"]),
        "ended_at": _stored_time(values["ended_at"]),
        "created_at": _stored_time(values["created_at"]),
    }


# SQLite's form of the same rows, statement by statement (it has no data-modifying CTEs), on
# the DB-API connection itself: each statement costs SQLite microseconds, SQLAlchemy's
# execution of it several times that. Values are stored as SQLAlchemy's types store them.
_CHANGE_COLUMNS = tuple(c.name for c in Change.__table__.columns)
# executemany takes no RETURNING: what was stored is read back by id (one JSON array
# parameter, however many ids).
_SQLITE_INSERT_CHANGES = f"""
    INSERT INTO changes ({", ".join(_CHANGE_COLUMNS)})
    VALUES ({", ".join("?" for _ in _CHANGE_COLUMNS)})
    ON CONFLICT DO NOTHING
"""  # noqa: S608 - column names come from the model, values are bound parameters
_SQLITE_INSERT_TAG = "INSERT INTO change_tags (change_id, tag, org_id) VALUES (?, ?, ?)"
_SQLITE_ADD_TO_COUNTER = """
    INSERT INTO change_counters (org_id, dimension, value, shard, count) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (org_id, dimension, value, shard) DO UPDATE SET count = count + excluded.count
"""
_SQLITE_ADD_TO_COMBO = """
    INSERT INTO change_combo_counters
        (org_id, service_id, change_type, environment, source, shard, count)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (org_id, service_id, change_type, environment, source, shard)
    DO UPDATE SET count = count + excluded.count
"""
_SQLITE_STORED_IDS = "SELECT id FROM changes WHERE id IN (SELECT value FROM json_each(?))"
_SQLITE_ORGS_WITH_CHANNELS = f"""
    SELECT DISTINCT org_id FROM {Channel.__tablename__}
    WHERE enabled AND org_id IN (SELECT value FROM json_each(?))
"""  # noqa: S608 - the table name comes from the model, the ids are a bound parameter
_SQLITE_QUEUE = _QUEUE_FOR_CHANNELS.format(change_id="CAST(:change_id AS VARCHAR(40))", source="")
# Where in a row the values SQLAlchemy's types would convert are: JSON, and UTC instants.
_JSON_AT = tuple(i for i, c in enumerate(Change.__table__.columns) if c.name in {"tags", "details"})
_TIME_AT = tuple(
    i for i, c in enumerate(Change.__table__.columns) if isinstance(c.type, UTCDateTime)
)


@functools.lru_cache(maxsize=256)  # a batch's rows share their created_at (and often more)
def _sqlite_time(value: datetime) -> str:
    """UTCDateTime on SQLite: naive UTC, in SQLAlchemy's DATETIME text (microseconds always)."""
    return naive_utc(value).isoformat(sep=" ", timespec="microseconds")


def _sqlite_row(values: dict[str, Any]) -> list[Any]:
    """A change's values in column order, stored as SQLAlchemy's types store them."""
    row = [values[column] for column in _CHANGE_COLUMNS]
    for at in _JSON_AT:
        row[at] = json_safety.dumps(row[at])  # JSON's null for None, as SQLAlchemy's JSON does
    for at in _TIME_AT:
        if row[at] is not None:
            row[at] = _sqlite_time(row[at])
    return row


def _combo(values: dict[str, Any]) -> tuple[str, ...]:
    """A change's combination counter: its service (or ''), type, environment and source."""
    return tuple(values[c] or "" for c in ("service_id", "change_type", "environment", "source"))


def insert_new_in(connection: Connection, values: dict[str, Any], tags: Sequence[str]) -> bool:
    """Insert a change with its tags and counts unless an idempotency key says it exists.

    True when inserted. ``insert_many_in`` for one change: conflicts are resolved by unique
    constraints (``ON CONFLICT``), so two concurrent posts of one ``external_id`` cannot both
    insert.
    """
    return values["id"] in insert_many_in(connection, [(values, tags)])


@contextlib.contextmanager
def _dbapi_cursor(connection: Connection) -> Iterator[Any]:
    """A cursor of the transaction's DB-API connection (sqlite3's, or aiosqlite's adapter of
    it), whose errors leave as SQLAlchemy raises them, so a busy database answers as one."""
    cursor = connection.connection.cursor()
    try:
        yield cursor
    except connection.dialect.loaded_dbapi.Error as error:
        raise _as_sqlalchemy_error(connection, error) from error
    finally:
        cursor.close()


def _keep_books_sqlite(cursor: Any, new: Sequence[tuple[dict[str, Any], Sequence[str]]]) -> None:
    """The rows that follow newly inserted changes (of one organisation or several): their
    tags, the counter bumps (summed per counter row, in a fixed order) and their outbox rows."""
    shard = random.randrange(COUNTER_SHARDS)  # noqa: S311 - spreading lock contention, not security
    tag_rows = [(values["id"], tag, values["org_id"]) for values, tags in new for tag in tags]
    if tag_rows:
        cursor.executemany(_SQLITE_INSERT_TAG, tag_rows)
    bumps = Counter(
        (values["org_id"], *key) for values, tags in new for key in _counter_keys(values, tags)
    )
    cursor.executemany(
        _SQLITE_ADD_TO_COUNTER, [(*key, shard, n) for key, n in sorted(bumps.items())]
    )
    combos = Counter((values["org_id"], *_combo(values)) for values, _ in new)
    cursor.executemany(
        _SQLITE_ADD_TO_COMBO, [(*combo, shard, n) for combo, n in sorted(combos.items())]
    )
    # The outbox only for organisations with an enabled channel (most have none): asked once
    # here, after the inserts above took the write lock, so no channel can appear meanwhile.
    cursor.execute(_SQLITE_ORGS_WITH_CHANNELS, (json.dumps(sorted({v["org_id"] for v, _ in new})),))
    notified = {row[0] for row in cursor.fetchall()}
    cursor.executemany(
        _SQLITE_QUEUE,
        [
            {
                "change_id": values["id"],
                "org_id": values["org_id"],
                "created_at": _sqlite_time(values["created_at"]),
            }
            for values, _ in new
            if values["org_id"] in notified
        ],
    )


def _as_sqlalchemy_error(connection: Connection, error: Exception) -> StatementError:
    """A DB-API error as SQLAlchemy raises it, so a busy database answers as one (db_errors)."""
    return DBAPIError.instance(
        None,
        None,
        error,
        connection.dialect.loaded_dbapi.Error,
        hide_parameters=True,
        dialect=connection.dialect,
    )


async def forget_service_counters(session: AsyncSession, org_id: str, service_id: str) -> None:
    """A deleted service's changes keep no service: move its counts to the no-service rows."""
    rows = (
        await session.execute(
            delete(ChangeComboCounter)
            .where(ChangeComboCounter.org_id == org_id, ChangeComboCounter.service_id == service_id)
            .returning(
                ChangeComboCounter.change_type,
                ChangeComboCounter.environment,
                ChangeComboCounter.source,
                ChangeComboCounter.shard,
                ChangeComboCounter.count,
            )
        )
    ).all()
    for change_type, environment, source, shard, moved in rows:
        statement = insert(session, ChangeComboCounter).values(
            org_id=org_id,
            service_id="",
            change_type=change_type,
            environment=environment,
            source=source,
            shard=shard,
            count=moved,
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[*COUNTED_COLUMNS, "org_id", "shard"],
                set_={"count": ChangeComboCounter.count + moved},
            )
        )


async def complete(
    session: AsyncSession, org_id: str, change_id: str, values: dict[str, Any], open_outcomes: Any
) -> bool:
    """Set a change's outcome fields while it has not ended; False when it has meanwhile.

    The check is in the statement, so two concurrent completions cannot both end a change.
    """
    statement = (
        update(Change)
        .where(
            Change.org_id == org_id,
            Change.id == change_id,
            or_(Change.outcome.is_(None), Change.outcome.in_(open_outcomes)),
        )
        .values(**values)
        .returning(Change.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def service_name(session: AsyncSession, org_id: str, service_id: str) -> str | None:
    """The name of this organisation's service with this id; None when it has none."""
    statement = select(Service.name).where(Service.org_id == org_id, Service.id == service_id)
    return (await session.execute(statement)).scalar_one_or_none()


def service_name_in(connection: Connection, org_id: str, service_id: str) -> str | None:
    """``service_name``, on a plain connection."""
    statement = select(Service.name).where(Service.org_id == org_id, Service.id == service_id)
    return connection.execute(statement).scalar_one_or_none()


# A change as a row: its columns and its service's name, without building an ORM object.
_CHANGE_ROWS = select(*Change.__table__.columns, Service.name.label("service_name")).outerjoin(
    Service, Service.id == Change.service_id
)


def _key_condition(
    source: str, external_id: str | None, idempotency_key: str | None
) -> ColumnElement[bool] | None:
    """What identifies a change already recorded: its source's external id, else the
    Idempotency-Key it was posted with; None when the post carried neither."""
    if external_id is not None:
        return and_(Change.source == source, Change.external_id == external_id)
    if idempotency_key is not None:
        return Change.idempotency_key == idempotency_key
    return None


def find_existing_in(
    connection: Connection,
    org_id: str,
    *,
    source: str,
    external_id: str | None,
    idempotency_key: str | None,
) -> RowMapping | None:
    """The change a key names (its columns and ``service_name``), on a plain connection."""
    condition = _key_condition(source, external_id, idempotency_key)
    if condition is None:
        return None
    statement = _CHANGE_ROWS.where(Change.org_id == org_id, condition)
    return connection.execute(statement).mappings().first()


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


# Equality filters, in the order their conditions are written.
_EQUAL_FILTERS = (
    "service_id",
    "change_type",
    "source",
    "environment",
    "risk_level",
    "changed_by",
    "external_id",
    "outcome",
)


@dataclass(frozen=True, slots=True)
class ListShape:
    """What a list's SQL depends on: which filters it has, not their values.

    Every value is a named parameter (``_parameters``), so one statement, built and compiled
    once, serves every list of the same shape.
    """

    equal: tuple[str, ...]
    start: bool
    end: bool
    tags: int
    q: bool
    sort: str


def list_shape(filters: ChangeFilters) -> ListShape:
    return ListShape(
        equal=tuple(c for c in _EQUAL_FILTERS if getattr(filters, c) is not None),
        start=filters.start is not None,
        end=filters.end is not None,
        tags=len(filters.tags),
        q=bool(filters.q),
        sort=filters.sort,
    )


def _parameters(org_id: str, filters: ChangeFilters) -> dict[str, Any]:
    """The values of a list's named parameters, as the columns store them."""
    values: dict[str, Any] = {"org_id": org_id}
    for column in _EQUAL_FILTERS:
        if (value := getattr(filters, column)) is not None:
            values[column] = value
    if filters.start is not None:
        values["start"] = naive_utc(filters.start)
    if filters.end is not None:
        values["end"] = naive_utc(filters.end)
    for index, tag in enumerate(filters.tags):
        values[f"tag_{index}"] = tag
    if filters.q:
        values["q"] = f"%{_escape_like(filters.q.lower())}%"
    return values


def _conditions(
    shape: ListShape, values: dict[str, Any] | None = None
) -> list[ColumnElement[bool]]:
    """The WHERE of a list of this shape; its parameters take ``values`` when given, else the
    values the statement is executed with."""

    def named(name: str) -> Any:
        return bindparam(name) if values is None else bindparam(name, values[name])

    org = named("org_id")  # one parameter however often it is used
    conditions: list[ColumnElement[bool]] = [Change.org_id == org]
    conditions += [getattr(Change, column) == named(column) for column in shape.equal]
    if shape.start:
        conditions.append(Change.created_at >= named("start"))
    if shape.end:
        conditions.append(Change.created_at < named("end"))
    for index in range(shape.tags):
        conditions.append(
            exists().where(
                ChangeTag.org_id == org,
                ChangeTag.change_id == Change.id,
                ChangeTag.tag == named(f"tag_{index}"),
            )
        )
    if shape.q:
        pattern = named("q")
        conditions.append(
            or_(
                func.lower(Change.summary).like(pattern, escape="\\"),
                func.lower(func.coalesce(Change.description, "")).like(pattern, escape="\\"),
            )
        )
    return conditions


@functools.lru_cache(maxsize=512)
def count_statement(shape: ListShape) -> Select[Any]:
    """The exact total of a list of this shape: summed from counters where they hold it."""
    counter = _counter(shape)
    if counter is None:
        return select(func.count()).select_from(Change).where(*_conditions(shape))
    if counter[0] == "combo":
        return select(func.coalesce(func.sum(ChangeComboCounter.count), 0)).where(
            ChangeComboCounter.org_id == bindparam("org_id"),
            *(getattr(ChangeComboCounter, c) == bindparam(c) for c in counter[1]),
        )
    value = bindparam("tag_0") if counter[0] == "tag" else literal("")
    return select(func.coalesce(func.sum(ChangeCounter.count), 0)).where(
        ChangeCounter.org_id == bindparam("org_id"),
        ChangeCounter.dimension == counter[0],
        ChangeCounter.value == value,
    )


def count_in(connection: Connection, org_id: str, filters: ChangeFilters) -> int:
    statement = count_statement(list_shape(filters))
    return int(connection.execute(statement, _parameters(org_id, filters)).scalar_one())


async def count(session: AsyncSession, org_id: str, filters: ChangeFilters) -> int:
    return await session.run_sync(lambda s: count_in(s.connection(), org_id, filters))


# Offsets below this are cheap to skip; above it an unfiltered list seeks by day first.
DEEP_OFFSET = 2000


def _seek_by_day(connection: Connection, org_id: str, offset: int) -> tuple[datetime, int] | None:
    """For an unfiltered newest-first list: the UTC day the offset falls in, via day counters.

    Returns (end of that day, offset within it): every change created on a later day comes
    before it, so the page is the rows before that instant at the remaining offset. Skipping
    then costs one day's rows at most instead of ``offset`` rows. None when the counters do
    not add up to the total (rows that predate them), so callers fall back to a plain offset.
    """
    per_day = connection.execute(
        select(ChangeCounter.value, func.sum(ChangeCounter.count))
        .where(ChangeCounter.org_id == org_id, ChangeCounter.dimension == "day")
        .group_by(ChangeCounter.value)
        .order_by(ChangeCounter.value.desc())
    ).all()
    total = count_in(connection, org_id, ChangeFilters())
    if sum(int(n) for _, n in per_day) != total:
        return None
    skipped = 0
    for day, day_count in per_day:
        if skipped + int(day_count) > offset:
            end = datetime.fromisoformat(str(day)) + timedelta(days=1)
            return end, offset - skipped
        skipped += int(day_count)
    return None  # past the end: the plain query returns an empty page just as cheaply


@functools.lru_cache(maxsize=512)
def page_statement(shape: ListShape, *, before: bool = False) -> Select[Any]:
    """A page of a list of this shape, newest first: each row's columns and ``service_name``.

    Parameters ``limit`` and ``offset``, and with ``before`` a ``before`` instant that every
    row precedes (see ``_seek_by_day``).
    """
    sort_column = Change.occurred_at if shape.sort == "occurred_at" else Change.created_at
    conditions = _conditions(shape)
    if before:
        conditions.append(Change.created_at < bindparam("before"))
    # Deferred join: walk the (narrow) index to find the page's ids, then fetch only those rows.
    # Skipping deep offsets then touches index entries, not whole rows.
    ids = (
        select(Change.id, sort_column.label("sort_key"))
        .where(*conditions)
        .order_by(sort_column.desc(), Change.id.desc())
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery()
    )
    return _CHANGE_ROWS.join(ids, ids.c.id == Change.id).order_by(
        ids.c.sort_key.desc(), Change.id.desc()
    )


def page_parameters(
    org_id: str, filters: ChangeFilters, *, limit: int, offset: int
) -> dict[str, Any]:
    return {**_parameters(org_id, filters), "limit": limit, "offset": offset}


def page_in(
    connection: Connection, org_id: str, filters: ChangeFilters, *, limit: int, offset: int
) -> list[RowMapping]:
    """A page of changes, newest first: each row's columns and its ``service_name``."""
    values = page_parameters(org_id, filters, limit=limit, offset=offset)
    seek = None
    if is_deep(filters, offset):
        seek = _seek_by_day(connection, org_id, offset)
        if seek is not None:
            values.update(before=seek[0], offset=seek[1])
    statement = page_statement(list_shape(filters), before=seek is not None)
    return list(connection.execute(statement, values).mappings().all())


def is_deep(filters: ChangeFilters, offset: int) -> bool:
    """An unfiltered list this deep seeks by day first (``_seek_by_day``)."""
    return offset > DEEP_OFFSET and filters == ChangeFilters()


def insert_many_in(
    connection: Connection, rows: Sequence[tuple[dict[str, Any], Sequence[str]]]
) -> set[str]:
    """Insert many changes (values, tags) with their tags, counts and outbox rows; the ids stored.

    The same rows as ``insert_new_in`` writes for each change, in one statement on PostgreSQL
    and a handful on SQLite for the whole batch instead of a few per change: counter bumps are
    summed per counter row first, since one statement may not update a row twice. Changes
    whose idempotency key exists already are skipped (``ON CONFLICT DO NOTHING``) and touch
    nothing else. In the connection's transaction.
    """
    if not rows:
        return set()
    if connection.dialect.name == "postgresql":
        result = connection.exec_driver_sql(_STORE_MANY_WITH_DRIVER, (_many_document(rows),))
        return {change_id for change_id, inserted, _ in result if inserted}
    with _dbapi_cursor(connection) as cursor:
        return _insert_rows_sqlite(cursor, rows)


def _insert_rows_sqlite(
    cursor: Any, rows: Sequence[tuple[dict[str, Any], Sequence[str]]]
) -> set[str]:
    """Changes (values, tags) with their bookkeeping, each statement once over all rows; the
    ids stored (a replayed key is skipped and touches nothing else)."""
    if not rows:
        return set()
    cursor.executemany(_SQLITE_INSERT_CHANGES, [_sqlite_row(values) for values, _ in rows])
    cursor.execute(_SQLITE_STORED_IDS, (json.dumps([values["id"] for values, _ in rows]),))
    stored = {row[0] for row in cursor.fetchall()}
    new = [(values, tags) for values, tags in rows if values["id"] in stored]
    if new:
        _keep_books_sqlite(cursor, new)
    return stored


_SQLITE_SERVICES = (
    "SELECT id, org_id, name FROM services WHERE id IN (SELECT value FROM json_each(?))"
)


def store_many_in(
    connection: Connection, rows: Sequence[tuple[dict[str, Any], Sequence[str]]]
) -> list[Stored]:
    """SQLite's ``store_many_with_driver``: changes of any organisations, each with its service
    checked, in the connection's transaction; per row, in order, what became of it."""
    wanted = sorted({values["service_id"] for values, _ in rows if values["service_id"]})
    with _dbapi_cursor(connection) as cursor:
        services: dict[str, tuple[str, str]] = {}
        if wanted:
            cursor.execute(_SQLITE_SERVICES, (json.dumps(wanted),))
            services = {id_: (org_id, name) for id_, org_id, name in cursor.fetchall()}

        def name_of(values: dict[str, Any]) -> str | None:
            org_id, name = services.get(values["service_id"], ("", None))
            return name if org_id == values["org_id"] else None

        known = [row for row in rows if row[0]["service_id"] is None or name_of(row[0])]
        stored = _insert_rows_sqlite(cursor, known)
    return [
        (values["id"] in stored, name_of(values) if values["service_id"] else None)
        for values, _ in rows
    ]


def _store_many_statement() -> str:
    """PostgreSQL: many changes with their bookkeeping in one statement, over one JSON document.

    The rows are parsed by the server (``jsonb_populate_recordset``). A row naming a service
    is inserted only when its organisation has that service (``named``); tags, counter bumps
    and outbox rows follow only the changes that were inserted (``new``), with each counter's
    bumps summed first and taken in a fixed order, so concurrent writers cannot deadlock on
    counter rows. The rows may belong to several organisations (a group of single posts).
    Answers, per row: its id, whether it was inserted, and its service's name.
    """
    queued = _QUEUE_FOR_CHANNELS.format(change_id="new.id", source="FROM new")
    queued = queued.replace("CAST(:org_id AS VARCHAR(40))", "new.org_id")
    queued = queued.replace(":created_at", "new.created_at")
    # ``doc`` takes the document apart once: a part read from the whole document row by row
    # would unpack all of it again for every row.
    return f"""
        WITH doc AS MATERIALIZED (
            SELECT d -> 'changes' AS changes, d -> 'tags' AS tags, d -> 'counters' AS counters,
                   CAST(d ->> 'shard' AS integer) AS shard
            FROM (SELECT CAST(%s AS jsonb) AS d) AS parameter
        ), given AS MATERIALIZED (
            SELECT r.* FROM doc, jsonb_populate_recordset(NULL::changes, doc.changes) AS r
        ), named AS (
            SELECT given.id, s.name FROM given
            JOIN services AS s ON s.org_id = given.org_id AND s.id = given.service_id
        ), new AS (
            INSERT INTO changes
            SELECT given.* FROM given
            WHERE given.service_id IS NULL OR given.id IN (SELECT id FROM named)
            ON CONFLICT DO NOTHING
            RETURNING id, org_id, service_id, change_type, environment, source, created_at
        ), tagged AS (
            INSERT INTO change_tags (change_id, tag, org_id)
            SELECT new.id, t.tag, new.org_id
            FROM doc, jsonb_to_recordset(doc.tags) AS t(change_id varchar, tag varchar)
            JOIN new ON new.id = t.change_id
        ), counted AS (
            INSERT INTO change_counters (org_id, dimension, value, shard, count)
            SELECT new.org_id, c.dimension, c.value, min(doc.shard), count(*)
            FROM doc, jsonb_to_recordset(doc.counters)
                AS c(change_id varchar, dimension varchar, value varchar)
            JOIN new ON new.id = c.change_id
            GROUP BY new.org_id, c.dimension, c.value
            ORDER BY new.org_id, c.dimension, c.value
            ON CONFLICT (org_id, dimension, value, shard)
            DO UPDATE SET count = change_counters.count + excluded.count
        ), combined AS (
            INSERT INTO change_combo_counters
                (org_id, service_id, change_type, environment, source, shard, count)
            SELECT new.org_id, coalesce(new.service_id, ''), new.change_type,
                   new.environment, new.source, min(doc.shard), count(*)
            FROM new, doc
            GROUP BY new.org_id, coalesce(new.service_id, ''), new.change_type,
                     new.environment, new.source
            ORDER BY 1, 2, 3, 4, 5
            ON CONFLICT (org_id, service_id, change_type, environment, source, shard)
            DO UPDATE SET count = change_combo_counters.count + excluded.count
        ), queued AS ({queued})
        SELECT given.id, new.id IS NOT NULL, named.name
        FROM given LEFT JOIN new ON new.id = given.id LEFT JOIN named ON named.id = given.id
    """  # noqa: S608 - table and column names are fixed, the document is a bound parameter


_STORE_MANY_WITH_DRIVER = _store_many_statement()
# What storing one change answers: whether it was inserted (not a replayed key, not an unknown
# service), and its service's name (None when it names none or one its organisation lacks).
Stored = tuple[bool, str | None]


def _many_document(rows: Sequence[tuple[dict[str, Any], Sequence[str]]]) -> str:
    """``_STORE_MANY_WITH_DRIVER``'s parameter: the rows, their tags and their counter keys."""
    document = {
        "shard": random.randrange(COUNTER_SHARDS),  # noqa: S311 - spreading contention
        "changes": [_document_row(values) for values, _ in rows],
        "tags": [{"change_id": v["id"], "tag": t} for v, tags in rows for t in tags],
        "counters": [
            {"change_id": v["id"], "dimension": d, "value": k}
            for v, tags in rows
            for d, k in _counter_keys(v, tags)
        ],
    }
    # json_safety's storage form: what no reader could serve back is refused here.
    return json_safety.dumps(document)


async def store_many_with_driver(
    connection: psycopg.AsyncConnection[Any], rows: Sequence[tuple[dict[str, Any], Sequence[str]]]
) -> list[Stored]:
    """PostgreSQL: store changes (values, tags) of any organisations in one statement, each
    with its service checked; per row, in order, what became of it (see ``Stored``)."""
    cursor = await connection.execute(_STORE_MANY_WITH_DRIVER, (_many_document(rows),))
    by_id = {change_id: (inserted, name) for change_id, inserted, name in await cursor.fetchall()}
    return [by_id[values["id"]] for values, _ in rows]


def service_names_in(
    connection: Connection, org_id: str, service_ids: Sequence[str]
) -> dict[str, str]:
    """The names of this organisation's services among these ids, by id."""
    if not service_ids:
        return {}
    statement = select(Service.id, Service.name).where(
        Service.org_id == org_id, Service.id.in_(service_ids)
    )
    return {row[0]: row[1] for row in connection.execute(statement).all()}


def _bar_of(moment: Any, edges: Sequence[datetime], first: int, last: int) -> Any:
    """The index of the bar (``first`` to ``last - 1``) holding ``moment``, as a SQL CASE.

    Halving the edges at each level costs a row about log2(bars) comparisons, holds for any
    edges (local midnights either side of a clock change are 23 or 25 hours apart) and reads
    the same on every backend.
    """
    if last - first == 1:
        return literal_column(str(first))
    middle = (first + last) // 2
    return case(
        (moment < edges[middle], _bar_of(moment, edges, first, middle)),
        else_=_bar_of(moment, edges, middle, last),
    )


async def histogram(
    session: AsyncSession, org_id: str, filters: ChangeFilters, edges: Sequence[datetime]
) -> list[tuple[int, str, int]]:
    """Changes matching ``filters`` per bar and type, in one grouped query.

    Bar ``i`` holds the changes created in [edges[i], edges[i + 1]). Answers (bar, change
    type, count) for the pairs that have any.
    """
    if len(edges) < 2:
        return []
    placed = (
        select(
            _bar_of(Change.created_at, edges, 0, len(edges) - 1).label("bar"),
            Change.change_type.label("change_type"),
        )
        .where(
            *_conditions(list_shape(filters), _parameters(org_id, filters)),
            Change.created_at >= edges[0],
            Change.created_at < edges[-1],
        )
        .subquery()
    )
    statement = select(placed.c.bar, placed.c.change_type, func.count()).group_by(
        placed.c.bar, placed.c.change_type
    )
    rows = (await session.execute(statement)).all()
    return [(int(bar), str(change_type), int(n)) for bar, change_type, n in rows]
