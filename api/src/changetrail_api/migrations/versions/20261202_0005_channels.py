"""channels: outbound notifications, the outbox changes enter, and the delivery log

``channel_outbox`` is written by the statement that records a change (when its organisation
has an enabled channel); the worker turns each row into ``channel_deliveries``, one per
channel whose rules select the change. Changes recorded before this migration are not
notified.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import changetrail_api.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("rules", JSON, nullable=False),
        sa.Column("options", JSON, nullable=False),
        sa.Column("max_per_minute", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("destination_host", sa.String(length=255), nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("rate_tat", changetrail_api.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", changetrail_api.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", changetrail_api.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_channels_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_channels_org_id_name")),
    )
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.create_index("ix_channels_org_enabled", ["org_id", "enabled"], unique=False)

    op.create_table(
        "channel_outbox",
        sa.Column("change_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", changetrail_api.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["changes.id"],
            name=op.f("fk_channel_outbox_change_id_changes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("change_id", name=op.f("pk_channel_outbox")),
    )
    with op.batch_alter_table("channel_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_channel_outbox_created", ["created_at"], unique=False)

    op.create_table(
        "channel_deliveries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("channel_id", sa.String(length=40), nullable=False),
        sa.Column("change_id", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=True),
        sa.Column("claim_id", sa.String(length=40), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("maybe_delivered", sa.Boolean(), nullable=False),
        sa.Column("message_size", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", changetrail_api.base.UTCDateTime(), nullable=False),
        sa.Column("give_up_at", changetrail_api.base.UTCDateTime(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", changetrail_api.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", changetrail_api.base.UTCDateTime(), nullable=False),
        sa.Column("delivered_at", changetrail_api.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["changes.id"],
            name=op.f("fk_channel_deliveries_change_id_changes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_channel_deliveries_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_deliveries")),
        sa.UniqueConstraint(
            "channel_id", "change_id", name=op.f("uq_channel_deliveries_channel_id_change_id")
        ),
    )
    with op.batch_alter_table("channel_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_channel_deliveries_change", ["change_id"], unique=False)
        batch_op.create_index("ix_channel_deliveries_claim", ["claim_id"], unique=False)
        batch_op.create_index(
            "ix_channel_deliveries_due", ["state", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_channel_deliveries_log", ["channel_id", "created_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("channel_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_deliveries_log")
        batch_op.drop_index("ix_channel_deliveries_due")
        batch_op.drop_index("ix_channel_deliveries_claim")
        batch_op.drop_index("ix_channel_deliveries_change")
    op.drop_table("channel_deliveries")
    with op.batch_alter_table("channel_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_outbox_created")
    op.drop_table("channel_outbox")
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_index("ix_channels_org_enabled")
    op.drop_table("channels")
