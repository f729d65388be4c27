"""change outcome: how a recorded change (a rollout) ended, and why

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, without a default: changes recorded before outcomes existed have none, which
    # is what "unknown" means; no row is rewritten.
    op.add_column("changes", sa.Column("outcome", sa.String(length=16), nullable=True))
    op.add_column("changes", sa.Column("outcome_reason", sa.String(length=255), nullable=True))
    op.create_index(
        "ix_changes_org_outcome_created",
        "changes",
        ["org_id", "outcome", "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_changes_org_outcome_created", table_name="changes")
    with op.batch_alter_table("changes") as batch:
        batch.drop_column("outcome_reason")
        batch.drop_column("outcome")
