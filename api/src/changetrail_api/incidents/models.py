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


class AlertmanagerGroup(Base):
    """One row per Alertmanager alert group an endpoint has heard of.

    Every notification of a group writes its row first, so notifications of one group are
    taken one at a time (a row lock on PostgreSQL, the write lock on SQLite): two replicas of
    an HA pair delivering at the same instant cannot both decide that an episode is new.
    """

    __tablename__ = "alertmanager_groups"

    # ``episodes.group_id``: the endpoint and the group key, hashed.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    group_key: Mapped[str] = mapped_column(String(1000))
    notifications: Mapped[int] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentAlert(Base):
    """The alert firings (fingerprint and ``startsAt``) an incident has been told about.

    What identifies an Alertmanager episode (see ``episodes.py``). The key makes a firing
    belong to one incident only.
    """

    __tablename__ = "incident_alerts"
    __table_args__ = (Index("ix_incident_alerts_incident", "incident_id"),)

    org_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    alert_group: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
