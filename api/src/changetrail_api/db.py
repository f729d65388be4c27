"""Engines and sessions. Plain URLs in, the right driver out.

Users write ``sqlite:///file.db`` or ``postgresql://...``; the async app needs aiosqlite or
psycopg's async mode, and migrations run on the synchronous variant of the same driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import select
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import Connection, Dialect, Engine, Select, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from changetrail_api import db_errors, json_safety
from changetrail_api.errors import ProblemError
from changetrail_api.metrics import SQLITE_WRITES_WAITED


class UnsupportedDatabaseError(ValueError):
    pass


def _normalise(url: str, *, asynchronous: bool) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite" if asynchronous else "sqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    raise UnsupportedDatabaseError(
        f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:/// or postgresql://"
    )


def async_url(url: str) -> URL:
    return _normalise(url, asynchronous=True)


def sync_url(url: str) -> URL:
    return _normalise(url, asynchronous=False)


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_ms: int) -> None:
    # WAL lets readers proceed while one writer commits; the busy timeout turns short write
    # contention into waiting instead of "database is locked" errors (beyond it: a 503).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms:d}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# Every JSON column goes through these: writes refuse what a reader could not serve back, reads
# repair what older versions stored instead of failing (see json_safety). Bound values stay out
# of error messages, which end up in logs: they include webhook secrets and key hashes.
_COMMON: dict[str, Any] = {
    "json_serializer": json_safety.dumps,
    "json_deserializer": json_safety.lenient_loads,
    "hide_parameters": True,
}


def create_engine(url: str, *, pool_size: int = 10, busy_seconds: float = 10.0) -> AsyncEngine:
    """``busy_seconds``: how long a SQLite writer waits for the write lock."""
    target = async_url(url)
    if is_sqlite(target):
        engine = create_async_engine(target, connect_args={"timeout": busy_seconds}, **_COMMON)
        pragmas = functools.partial(_sqlite_pragmas, busy_ms=int(busy_seconds * 1000))
        event.listen(engine.sync_engine, "connect", pragmas)
        return engine
    # A fixed pool: requests beyond ``pool_size`` wait for a connection instead of opening one
    # for a single statement and closing it at check-in, a connect (and a server process) per
    # request just when the load is highest. No request holds two connections at once.
    engine = create_async_engine(target, pool_size=pool_size, max_overflow=0, **_COMMON)
    event.listen(engine.sync_engine, "checkout", _ping_when_suspect)
    event.listen(engine.sync_engine, "checkin", _note_checkin)
    return engine


# Checking a pooled PostgreSQL connection before each use (pre-ping) costs a round trip, as
# much as a request's insert. Instead a connection is pinged only when something suggests it
# may be gone: the server wrote to it while it sat idle in the pool (a restart or an
# administrator ends sessions with a message, then closes the socket), or it sat idle long
# enough for a network path to have dropped it.
IDLE_BEFORE_PING = 10.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_when_suspect(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    checked_in = record.info.get("checked_in")
    recent = checked_in is not None and time.monotonic() - checked_in < IDLE_BEFORE_PING
    # A connection handed out must be outside any transaction: the autocommit paths cannot
    # switch one that is in a transaction, and a request must never inherit another's.
    idle = record.driver_connection.info.transaction_status == TransactionStatus.IDLE
    if recent and idle and not _has_pending_input(record.driver_connection):
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()  # hand the pool an idle connection, not one in a transaction
    except Exception as error:
        # The pool discards this connection and checks out a fresh one.
        raise DisconnectionError from error


def _has_pending_input(connection: Any) -> bool:
    """Whether an idle connection's socket has anything to read (or is closed): no round trip."""
    try:
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
    except Exception:  # closed, or no socket at all: treat it as suspect
        return True
    return bool(readable)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@contextlib.asynccontextmanager
async def session_scope(
    maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit on success, roll back on any error.

    A database that is busy, gone or refusing a value answers as a problem (409, 422, 503),
    whether the endpoint or the commit hit it: see ``db_errors``.
    """
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except (DBAPIError, PoolTimeoutError) as error:
            await _rollback_quietly(session)
            problem = db_errors.as_problem(error)
            if problem is None:
                raise
            raise problem from error
        except BaseException:
            await _rollback_quietly(session)
            raise


async def _rollback_quietly(session: AsyncSession) -> None:
    # After a lost connection the rollback fails too; the first error is the one to report.
    with contextlib.suppress(DBAPIError, PoolTimeoutError, OSError):
        await session.rollback()


T = TypeVar("T")
# A unit of work: a plain function of a connection, run in one transaction (see Database).
Work = Callable[[Connection], T]
# The same on PostgreSQL's own driver, for the one-statement hot paths (Database.on_postgresql).
DriverWork = Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]


class Database:
    """Runs a request's unit of work in one transaction, as cheaply as each backend allows.

    Hot paths (recording and listing changes) hand it a plain function of a connection
    instead of driving an ``AsyncSession``; the statements are the same Core statements.

    - PostgreSQL: the function runs on an async connection through ``run_sync``, so each
      statement is one round trip on psycopg's async driver, without the ORM session.
    - SQLite: the async driver (aiosqlite) hands every call (cursor, execute, fetch, close) to
      its thread and back, several hops per statement, and each hop waits for the scheduler.
      Here a write runs on the event loop itself, on the standard library's sqlite3, as a bare
      sqlite3 endpoint would: an insert and its bookkeeping take a millisecond or less, and
      while it runs no other coroutine of this process can hold SQLite's write lock halfway.
      It never waits for that lock on the loop (its busy timeout is 0): when another writer
      holds it (another process, or a session of this one between two statements), the work
      is rolled back and run again on a writer thread, which waits as long as any writer
      would. Reads run on the default thread pool, where a long count cannot stall the loop.

    ``busy_seconds``: how long a write waits for a lock (SQLite's write lock, or a row or
    table lock on PostgreSQL's hot paths) before it answers 503.

    Database errors leave as the problems ``session_scope`` answers with (``db_errors``).
    """

    def __init__(
        self, url: str, engine: AsyncEngine, *, pool_size: int = 10, busy_seconds: float = 10.0
    ) -> None:
        self.engine = engine
        self._url = url
        self._pool_size = pool_size
        self._busy_seconds = busy_seconds
        # PostgreSQL's hot paths: psycopg's own pool, opened at first use (see on_postgresql).
        self._driver_pool: AsyncConnectionPool[Any] | None = None
        self._driver_pool_opening: asyncio.Future[None] | None = None
        self._sqlite: tuple[Engine, Engine] | None = None
        # Made at the first write that waits, again after dispose (an app may start again).
        self._writer: ThreadPoolExecutor | None = None
        # The loop's own SQLite connection, opened at the first write and kept: a pool's
        # check-out, check-in and reset would cost as much as the insert.
        self._on_loop: Connection | None = None
        # Writes queued on the writer thread and not yet done, oldest first.
        self._on_writer: list[asyncio.Future[Any]] = []
        if is_sqlite(url):
            self._sqlite = (
                _sqlite_sync_engine(url, busy_seconds=0, pool_size=1),
                _sqlite_sync_engine(url, busy_seconds=busy_seconds, pool_size=5),
            )

    async def write(self, work: Work[T], *, one_statement: bool = False, large: bool = False) -> T:
        """``work`` in one transaction, committed when it returns, rolled back when it raises.

        ``one_statement``: the work writes with a single statement (the reads before it may
        as well see the latest commits), so on PostgreSQL it runs in autocommit mode: that
        statement is its own transaction, and BEGIN and COMMIT cost no round trips.

        ``large``: the work takes long enough (a batch of changes) that on SQLite it runs on
        the writer thread, in line with the other writes of this process, rather than holding
        the loop while it runs.
        """
        if self._sqlite is None:
            if one_statement:
                return await _problems(self._autocommit(work))
            return await _problems(self._write_async(work))
        on_loop, waiting = self._sqlite
        # Writes handed to the writer thread hold the lock while they run; a write that tried
        # the loop meanwhile would only find it taken and queue behind them, and under load
        # every write would end up there. It waits for them instead, then takes the loop.
        while self._on_writer and not large:
            await asyncio.wait({self._on_writer[-1]})
        if not large:
            try:
                return await _problems(_done(self._on_loop_transaction, on_loop, work))
            except ProblemError as problem:
                if problem.status != 503 or not isinstance(problem.__cause__, DBAPIError):
                    raise
            SQLITE_WRITES_WAITED.inc()
        return await self._on_writer_thread(waiting, work)

    async def _on_writer_thread(self, engine: Engine, work: Work[T]) -> T:
        loop = asyncio.get_running_loop()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        queued = loop.run_in_executor(self._writer, _in_transaction, engine, work)
        self._on_writer.append(queued)
        try:
            return await _problems(queued)
        finally:
            self._on_writer.remove(queued)

    @property
    def is_postgresql(self) -> bool:
        return self._sqlite is None

    async def on_postgresql(self, work: DriverWork[T]) -> T:
        """``work`` on a pooled psycopg connection in autocommit mode: one statement, one
        round trip, each statement its own transaction.

        For the paths that take most requests (recording a change): SQLAlchemy's async layer
        (pool events, greenlet hops, compiled-statement look-ups, result processing) costs
        several times the insert itself. The statements stay bound parameters, and errors
        answer as the same problems (``db_errors``).
        """
        pool = await self._open_driver_pool()
        try:
            async with pool.connection() as connection:
                return await work(connection)
        except (psycopg.Error, PoolTimeout) as error:
            problem = db_errors.driver_problem(error)
            if problem is None:
                raise
            raise problem from error

    async def fetch_on_postgresql(
        self, statement: Select[Any], parameters: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The rows of a read-only Core statement, run on psycopg's own pool (autocommit).

        For the reads behind most requests (a list's page and total): the statement is
        compiled once (callers keep one statement per shape, with named parameters), and its
        rows come back as dicts of the driver's values, without SQLAlchemy's execution and
        result layers. ``parameters`` are in storage form already (naive UTC instants); a
        naive instant read back is UTC, as UTCDateTime reads it.
        """
        sql, constants = _driver_sql(statement, self.engine.dialect)
        values = {**constants, **parameters}

        async def fetch(connection: psycopg.AsyncConnection[Any]) -> list[dict[str, Any]]:
            async with connection.cursor(row_factory=dict_row) as cursor:
                await cursor.execute(sql, values)
                return [_utc_instants(row) for row in await cursor.fetchall()]

        return await self.on_postgresql(fetch)

    async def _open_driver_pool(self) -> AsyncConnectionPool[Any]:
        # Made and set before the first await, so requests arriving together share one pool;
        # each waits until it is open.
        if self._driver_pool is None or self._driver_pool_opening is None:
            pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                driver_conninfo(self._url),
                min_size=1,
                max_size=self._pool_size,
                # A write waits for a lock as long as a SQLite writer would, then answers 503.
                kwargs={
                    "autocommit": True,
                    "options": f"-c lock_timeout={int(self._busy_seconds * 1000):d}",
                },
                configure=_read_json_leniently,
                check=_check_when_suspect,
                reset=_note_returned,
                open=False,
                name="changetrail-hot-path",
            )
            self._driver_pool = pool
            self._driver_pool_opening = asyncio.ensure_future(pool.open())
        if not self._driver_pool_opening.done():
            await asyncio.shield(self._driver_pool_opening)
        self._driver_pool_opening.result()  # an open that failed fails every use alike
        return self._driver_pool

    async def read(self, work: Work[T]) -> T:
        """``work`` on a connection of its own, for reads (autocommit on PostgreSQL)."""
        if self._sqlite is None:
            return await _problems(self._autocommit(work))
        return await _problems(asyncio.to_thread(_in_transaction, self._sqlite[1], work))

    def _on_loop_transaction(self, engine: Engine, work: Work[T]) -> T:
        connection = self._on_loop
        if connection is None or connection.invalidated or connection.closed:
            connection = self._on_loop = engine.connect()
        try:
            with connection.begin():
                return work(connection)
        except DBAPIError as error:
            if error.connection_invalidated:
                self._on_loop = None
            raise

    async def _write_async(self, work: Work[T]) -> T:
        async with self.engine.begin() as connection:
            return await connection.run_sync(work)

    async def _autocommit(self, work: Work[T]) -> T:
        # Each statement its own transaction: what READ COMMITTED gives a transaction's
        # statements anyway, without the round trips of BEGIN and COMMIT (or ROLLBACK).
        async with self.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return await autocommit.run_sync(work)

    async def dispose(self) -> None:
        """Close every connection; the next use opens new ones (an app may be started again)."""
        if self._driver_pool is not None:
            await self._driver_pool.close()
            self._driver_pool = self._driver_pool_opening = None
        if self._on_loop is not None:
            self._on_loop.close()
            self._on_loop = None
        if self._sqlite is not None:
            for engine in self._sqlite:
                engine.dispose()
        if self._writer is not None:
            self._writer.shutdown(wait=False)
            self._writer = None


@functools.lru_cache(maxsize=1024)
def _driver_sql(statement: Select[Any], dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """A statement's SQL for psycopg, its parameters named (``%(org_id)s``), and the values of
    the parameters the statement carries itself (its constants)."""
    compiled = statement.compile(dialect=dialect)
    constants = {
        name: bind.effective_value
        for bind, name in compiled.bind_names.items()
        if not bind.required
    }
    return str(compiled), constants


def _utc_instants(row: dict[str, Any]) -> dict[str, Any]:
    for name, value in row.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            row[name] = value.replace(tzinfo=UTC)
    return row


def driver_conninfo(url: str) -> str:
    """The libpq form of a PostgreSQL URL as users write it (``postgresql://...``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# When each pooled driver connection went back to the pool (see _check_when_suspect).
_RETURNED: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


async def _note_returned(connection: psycopg.AsyncConnection[Any]) -> None:
    _RETURNED[connection] = time.monotonic()


async def _read_json_leniently(connection: psycopg.AsyncConnection[Any]) -> None:
    """JSON read on the driver's own connections is repaired as SQLAlchemy's engines repair it
    (``json_safety.lenient_loads``): a value an older version stored must not break a read."""
    set_json_loads(json_safety.lenient_loads, connection)


async def _check_when_suspect(connection: psycopg.AsyncConnection[Any]) -> None:
    """The driver pool's counterpart of _ping_when_suspect: a round trip only for a connection
    that sat idle long, or that the server wrote to (or closed) while it was idle."""
    returned = _RETURNED.get(connection)
    recent = returned is not None and time.monotonic() - returned < IDLE_BEFORE_PING
    if recent and not _has_pending_input(connection):
        return
    await connection.execute("SELECT 1")  # raises for a dead one: the pool replaces it


def _sqlite_sync_engine(url: str, *, busy_seconds: float, pool_size: int) -> Engine:
    engine = create_sync_engine(
        sync_url(url),
        # Connections move between the pool's threads; each is used by one at a time.
        connect_args={"timeout": busy_seconds, "check_same_thread": False},
        pool_size=pool_size,
        **_COMMON,
    )
    pragmas = functools.partial(_sqlite_pragmas, busy_ms=int(busy_seconds * 1000))
    event.listen(engine, "connect", pragmas)
    return engine


async def _done(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` run right here, as an awaitable (for ``_problems``)."""
    return function(*args)


def _in_transaction(engine: Engine, work: Work[T]) -> T:
    with engine.begin() as connection:
        return work(connection)


async def _problems(running: Awaitable[T]) -> T:
    try:
        return await running
    except (DBAPIError, PoolTimeoutError) as error:
        problem = db_errors.as_problem(error)
        if problem is None:
            raise
        raise problem from error
