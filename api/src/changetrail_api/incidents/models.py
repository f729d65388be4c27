from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from changetrail_api.base import Base, JSONType, UTCDateTime


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        # Retries of the same report and redeliveries of the same alert group collide here.
        UniqueConstraint("org_id", "source", "external_id"),
        # At most one open incident per Alertmanager group. NULL (resolved, or not from a
        # group) never conflicts, on PostgreSQL and SQLite alike.
        UniqueConstraint("org_id", "source", "open_group"),
        Index("ix_incidents_org_started", "org_id", "started_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(16))
    environment: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(255))
    open_group: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentService(Base):
    """One row per affected service, so "incidents of this service" is an indexed look-up and a
    deleted service drops out of its incidents."""

    __tablename__ = "incident_services"
    __table_args__ = (
        Index("ix_incident_services_org_service", "org_id", "service_id", "incident_id"),
    )

    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[str] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(String(40))
    # The order the reporter listed the services in.
    position: Mapped[int] = mapped_column(Integer, default=0)
