"""text search: trigram indexes on the changes' summary and description (PostgreSQL only)

A text filter (``q``, on the API's list and the timeline) finds changes whose summary or
description contains the text in any case, as ``lower(summary) LIKE '%text%' OR
lower(coalesce(description, '')) LIKE '%text%'``. No B-tree serves a pattern that starts with
a wildcard, so PostgreSQL read every change of the organisation. pg_trgm's GIN indexes on
exactly those two expressions let it find the rows holding the text's trigrams instead, one
bitmap per side of the OR.

pg_trgm ships with PostgreSQL (Debian's postgresql-contrib, part of the server package), but
creating an extension may need a privilege the migrating role lacks. Then this logs a
warning and goes on: text search still works, only by reading every row. Building the
indexes blocks writes to ``changes`` while it runs (about a minute per million rows). SQLite
has no such index: there this does nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("changetrail_api.migrations")

# The same expressions the text filter compares (changes.repository), so the planner matches;
# the models declare the same indexes (changes.models).
_INDEXES = {
    "ix_changes_summary_trgm": "lower(summary)",
    "ix_changes_description_trgm": "lower(coalesce(description, ''))",
}


def _create(name: str, expression: str) -> str:
    return f"CREATE INDEX IF NOT EXISTS {name} ON changes USING gin ({expression} gin_trgm_ops)"


def _has_trigrams(bind: sa.engine.Connection) -> bool:
    """Whether pg_trgm is there, creating it if this role may."""
    installed = "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"
    if bind.execute(sa.text(installed)).first() is not None:
        return True
    try:
        # In a savepoint: a refused CREATE EXTENSION must not abort the whole upgrade.
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as error:
        reason = str(error.orig or error).strip().splitlines()[0]
        logger.warning(
            "pg_trgm could not be created (%s): text search on changes reads every row. "
            "To index it, a superuser runs: CREATE EXTENSION pg_trgm; %s",
            reason,
            " ".join(f"{_create(name, expression)};" for name, expression in _INDEXES.items()),
        )
        return False
    return True


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _has_trigrams(bind):
        return
    for name, expression in _INDEXES.items():
        op.execute(_create(name, expression))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # The extension stays: other databases' objects, or an operator's own, may use it.
    for name in _INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
