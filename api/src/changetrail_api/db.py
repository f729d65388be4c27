"""Engines and sessions. Plain URLs in, the right driver out.

Users write ``sqlite:///file.db`` or ``postgresql://...``; the async app needs aiosqlite or
psycopg's async mode, and migrations run on the synchronous variant of the same driver.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from changetrail_api import db_errors, json_safety


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
    return create_async_engine(
        target, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, **_COMMON
    )


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
