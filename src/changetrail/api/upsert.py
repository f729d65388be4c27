"""``INSERT ... ON CONFLICT`` for whichever backend the session is bound to.

Both PostgreSQL and SQLite (3.35+) support it with the same semantics; SQLAlchemy only spells it
per dialect.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert(session: AsyncSession, table: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
