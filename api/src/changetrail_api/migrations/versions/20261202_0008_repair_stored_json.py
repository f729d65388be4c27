"""repair stored JSON: rewrite what SQLite kept that no response could carry

Before every JSON value went through json_safety, a change's ``details`` (or an operator's
state, an incident's details) could be stored with ``NaN`` or ``Infinity`` in it, half of a
surrogate pair or a NUL as an escape, a number beyond a double, or nesting hundreds deep. SQLite
keeps JSON as text and took all of it; its JSON functions then refused some rows, so
correlating any incident whose window covered one failed. Each such value is rewritten the
way reads repair it (non-finite numbers become null, bad characters U+FFFD, nesting is cut at
the limit). Rows are picked by cheap tests in SQL first, then checked one by one.

PostgreSQL's ``jsonb`` never accepted non-finite numbers, surrogates or NUL, and the few
values that could be too deep are repaired when read, so this leaves PostgreSQL alone rather
than read every stored document at upgrade time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from changetrail_api import json_safety

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, its key columns, the JSON column, what an unreadable value becomes)
_COLUMNS: tuple[tuple[str, tuple[str, ...], str, Any], ...] = (
    ("changes", ("id",), "details", None),
    ("changes", ("id",), "tags", []),
    ("incidents", ("id",), "details", None),
    ("operator_objects", ("org_id", "cluster", "kind", "uid"), "state", {}),
    ("services", ("id",), "kubernetes", None),
)


# Cheap SQL tests for what may need a repair: not JSON to SQLite, an escape (\u...), more
# brackets than the nesting limit, or a number with a three-digit exponent.
_SUSPECT = (
    "NOT json_valid({c}) OR instr({c}, char(92) || 'u') > 0"
    " OR length({c}) - length(replace(replace({c}, '[', ''), '{{', '')) > {depth}"
    " OR {c} GLOB '*[0-9][eE][0-9][0-9][0-9]*' OR {c} GLOB '*[0-9][eE][+-][0-9][0-9][0-9]*'"
)


def _repaired(text: str, fallback: Any) -> str | None:
    """The value to store instead, or ``text`` itself when it is fine as it is."""
    try:
        json_safety.loads(text)
    except ValueError:
        pass
    else:
        return text
    try:
        value = json_safety.lenient_loads(text)
    except ValueError:
        value = None
    if value is None:
        value = fallback
    return None if value is None else json_safety.dumps(value)


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    for table, keys, column, fallback in _COLUMNS:
        where = " AND ".join(f"{key} = :k_{key}" for key in keys)
        update = sa.text(f"UPDATE {table} SET {column} = :value WHERE {where}")  # noqa: S608
        suspect = _SUSPECT.format(c=column, depth=json_safety.MAX_DEPTH)
        rows = connection.execute(
            sa.text(
                f"SELECT {', '.join(keys)}, {column} FROM {table} "  # noqa: S608
                f"WHERE {column} IS NOT NULL AND ({suspect})"
            )
        ).all()
        for row in rows:
            *key_values, text = row
            value = _repaired(text, fallback)
            if value == text:
                continue
            parameters = {f"k_{key}": v for key, v in zip(keys, key_values, strict=True)}
            connection.execute(update, {**parameters, "value": value})


def downgrade() -> None:
    # The repaired values are valid under every earlier version too.
    pass
