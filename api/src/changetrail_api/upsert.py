"""``INSERT ... ON CONFLICT`` for whichever backend the session is bound to.

Both PostgreSQL and SQLite (3.35+) support it with the same semantics; SQLAlchemy only spells it
per dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert(session: AsyncSession, table: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


_STATEMENTS: dict[tuple[str, Callable[[AsyncSession], Any]], Any] = {}


def cached_statement(session: AsyncSession, build: Callable[[AsyncSession], Any]) -> Any:
    """A statement built once per dialect and executed with parameters afterwards.

    Hot paths pass their values as execution parameters instead of ``.values(...)``, so the
    statement object (and SQLAlchemy's compiled form of it) is reused for every request.
    """
    key = (session.get_bind().dialect.name, build)
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = build(session)
    return statement
