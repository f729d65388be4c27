"""Counters per combination of service, type, environment and source; tag and day counters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_combo_counters",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("service_id", sa.String(length=40), nullable=False),
        sa.Column("change_type", sa.String(length=32), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id",
            "service_id",
            "change_type",
            "environment",
            "source",
            "shard",
            name=op.f("pk_change_combo_counters"),
        ),
    )
    # Counters are exact or useless: rebuild every kind from the stored changes.
    day = (
        "to_char(created_at, 'YYYY-MM-DD')"
        if op.get_bind().dialect.name == "postgresql"
        else "strftime('%Y-%m-%d', created_at)"
    )
    op.execute(
        "INSERT INTO change_combo_counters "
        "SELECT org_id, coalesce(service_id, ''), change_type, environment, source, 0, count(*) "
        "FROM changes GROUP BY org_id, coalesce(service_id, ''), change_type, environment, source"
    )
    op.execute(
        "DELETE FROM change_counters WHERE dimension IN "
        "('service_id', 'change_type', 'environment', 'source', 'tag', 'day')"
    )
    op.execute(
        "INSERT INTO change_counters SELECT org_id, 'tag', tag, 0, count(*) "
        "FROM change_tags GROUP BY org_id, tag"
    )
    op.execute(
        f"INSERT INTO change_counters SELECT org_id, 'day', {day}, 0, count(*) "  # noqa: S608
        f"FROM changes GROUP BY org_id, {day}"
    )


def downgrade() -> None:
    op.drop_table("change_combo_counters")
    op.execute("DELETE FROM change_counters WHERE dimension IN ('tag', 'day')")
    for column in ("service_id", "change_type", "environment", "source"):
        op.execute(
            f"INSERT INTO change_counters SELECT org_id, '{column}', {column}, 0, count(*) "  # noqa: S608
            f"FROM changes WHERE {column} IS NOT NULL GROUP BY org_id, {column}"
        )
