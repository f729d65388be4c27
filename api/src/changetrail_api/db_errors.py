"""What a database error means to the client: a conflict, a value it cannot take, or "busy".

A writer that loses a race on a unique constraint, a SQLite file locked by a long writer, a
PostgreSQL deadlock or a restart are not server bugs: the client can retry or fix its request.
They answer 409, 422 or 503 (with ``Retry-After``), never 500. Anything not recognised here
stays an unexpected error and is logged.
"""

from __future__ import annotations

import psycopg
from psycopg_pool import PoolTimeout
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from changetrail_api.errors import ProblemError

RETRY_AFTER_SECONDS = 1

# PostgreSQL SQLSTATEs that mean "try again shortly": serialization failure, deadlock, lock not
# available, statement timeout or cancel, too many connections, shutting down, cannot connect.
_BUSY_STATES = frozenset({"40001", "40P01", "55P03", "57014", "53300", "57P01", "57P02", "57P03"})
_BUSY_CLASSES = frozenset({"08"})  # connection exceptions
# SQLite: SQLITE_BUSY and SQLITE_LOCKED, in the low byte of extended result codes.
_SQLITE_BUSY_CODES = frozenset({5, 6})
_SQLITE_BUSY_WORDS = ("database is locked", "database table is locked", "database is busy")


def _sqlstate(error: DBAPIError) -> str | None:
    state = getattr(error.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def _busy_state(state: str) -> bool:
    return state in _BUSY_STATES or state[:2] in _BUSY_CLASSES


def is_busy(error: DBAPIError | PoolTimeoutError) -> bool:
    """The database is contended or unreachable: the same request may succeed in a moment."""
    if isinstance(error, PoolTimeoutError):
        return True
    if error.connection_invalidated:
        return True
    state = _sqlstate(error)
    if state is not None:
        return _busy_state(state)
    if not isinstance(error, OperationalError):
        return False
    code = getattr(error.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_BUSY_CODES
    message = str(error.orig).lower()
    return any(words in message for words in _SQLITE_BUSY_WORDS)


def as_problem(error: DBAPIError | PoolTimeoutError) -> ProblemError | None:
    """The problem to answer with, or None for an error that is a bug (and must be logged)."""
    if is_busy(error):
        return _busy()
    if isinstance(error, IntegrityError):
        return _conflict()
    if isinstance(error, DataError):
        return _unstorable()
    return None


def _busy() -> ProblemError:
    return ProblemError(
        503,
        "The database is busy; retry the request shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _conflict() -> ProblemError:
    # Checks run before every write; a violation here means a concurrent request won.
    return ProblemError(
        409, "The request conflicts with a concurrent change; read the current state."
    )


def _unstorable() -> ProblemError:
    return ProblemError(422, "A value in the request cannot be stored.")


def driver_problem(error: psycopg.Error | PoolTimeout) -> ProblemError | None:
    """``as_problem`` for an error of psycopg itself (the hot paths that skip SQLAlchemy)."""
    state = getattr(error, "sqlstate", None)
    broken = isinstance(error, psycopg.OperationalError | PoolTimeout) and state is None
    if broken or (isinstance(state, str) and _busy_state(state)):
        return _busy()
    if isinstance(error, psycopg.IntegrityError):
        return _conflict()
    if isinstance(error, psycopg.DataError):
        return _unstorable()
    return None
