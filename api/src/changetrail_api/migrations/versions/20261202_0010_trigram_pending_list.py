"""text search: the trigram indexes flush their pending list in smaller steps (PostgreSQL only)

A GIN index takes new entries into a pending list and merges the list into the index once it
outgrows ``gin_pending_list_limit`` (4 MB by default), in the insert that overflowed it. With
the two trigram indexes of 0009, about a hundred entries per change, that merge came every few
thousand changes and held the posts being stored with it for tens of milliseconds: most of
the single posts' p99 under load (``make bench``: 78 to 91 ms at 4 MB, 53 to 57 ms at 1 MB,
the same requests per second). A 1 MB list merges about four times as often, each merge
shorter in proportion. Autovacuum still empties the list too.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The indexes of 0009, which exist only where pg_trgm could be had.
_INDEXES = ("ix_changes_summary_trgm", "ix_changes_description_trgm")
PENDING_LIST_KB = 1024


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in _INDEXES:
        op.execute(f"ALTER INDEX IF EXISTS {name} SET (gin_pending_list_limit = {PENDING_LIST_KB})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in _INDEXES:
        op.execute(f"ALTER INDEX IF EXISTS {name} RESET (gin_pending_list_limit)")
