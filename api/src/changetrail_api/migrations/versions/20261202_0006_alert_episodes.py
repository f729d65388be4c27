"""alert episodes: the firings each Alertmanager incident holds, and the groups heard of

An Alertmanager episode is identified by the alert firings (fingerprint and startsAt) its
notifications carried, kept in ``incident_alerts``; ``alertmanager_groups`` has a row per
group that every notification of the group writes first, so one group's notifications are
taken one at a time.

Incidents recorded before this have no firings: their notifications are still found by
their ``external_id`` (group and earliest start) and, while open, by ``open_group``, as
before, and the firings of every notification folded into them from now on are kept.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import changetrail_api.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alertmanager_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("endpoint_id", sa.String(length=40), nullable=False),
        sa.Column("group_key", sa.String(length=1000), nullable=False),
        sa.Column("notifications", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", changetrail_api.base.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", changetrail_api.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_alertmanager_groups_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_alertmanager_groups_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alertmanager_groups")),
    )
    with op.batch_alter_table("alertmanager_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alertmanager_groups_endpoint_id"), ["endpoint_id"], unique=False
        )

    op.create_table(
        "incident_alerts",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("alert_group", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("starts_at", changetrail_api.base.UTCDateTime(), nullable=False),
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_alerts_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "org_id", "alert_group", "fingerprint", "starts_at", name=op.f("pk_incident_alerts")
        ),
    )
    with op.batch_alter_table("incident_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_incident_alerts_incident", ["incident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_alerts_incident")
    op.drop_table("incident_alerts")
    with op.batch_alter_table("alertmanager_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alertmanager_groups_endpoint_id"))
    op.drop_table("alertmanager_groups")
