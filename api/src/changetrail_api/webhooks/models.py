from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from changetrail_api.base import Base, UTCDateTime, new_id, utcnow_ms


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("whk"))
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    # Which receiver the token belongs to: "changes" or "alertmanager".
    kind: Mapped[str] = mapped_column(String(32), default="changes")
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The signing secret must stay usable for HMAC verification, so it cannot be hashed; it is
    # write-only through the API and never returned.
    secret: Mapped[str | None] = mapped_column(Text, default=None)
    service_id: Mapped[str | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), default=None
    )
    environment: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow_ms)
