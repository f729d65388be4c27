"""The web pages' one table: signed-in browser sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from changetrail_api.base import Base, UTCDateTime


class WebSession(Base):
    """A browser signed in with an API key.

    Neither secret is stored as such: ``id_hash`` is a SHA-256 of the cookie's token, and
    ``sealed_key`` is the API key encrypted under a key derived from that same token. A copy of
    the table therefore opens no session and reveals no key; only the browser holding the
    cookie can unseal the key the session acts as. Deleting or revoking that key (or the
    organisation) ends the session.
    """

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    sealed_key: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Absolute, not sliding: a stolen cookie stops working at this instant whatever its use.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
