"""Signing in and out: sessions opened with an API key, found again by their cookie."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.auth import Principal
from changetrail_api.base import utcnow_ms
from changetrail_api.web import repository, sealing
from changetrail_api.web.models import WebSession


@dataclass(frozen=True, slots=True)
class Opened:
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Resumed:
    label: str
    key: str


async def open_session(
    db: AsyncSession, principal: Principal, key: str, label: str, lifetime: timedelta
) -> Opened:
    now = utcnow_ms()
    # Sign-ins are rare next to page views: a good moment to drop what has expired.
    await repository.remove_expired(db, now)
    token = sealing.new_token()
    row = WebSession(
        id_hash=sealing.token_hash(token),
        org_id=principal.org_id,
        key_id=principal.key_id,
        sealed_key=sealing.seal(token, key),
        label=label[:200],
        created_at=now,
        expires_at=now + lifetime,
    )
    await repository.add(db, row)
    return Opened(token=token, expires_at=row.expires_at)


async def resume(db: AsyncSession, token: str) -> Resumed | None:
    """The live session this cookie token opened, with its key; None if none is."""
    row = await repository.get_live(db, sealing.token_hash(token), utcnow_ms())
    if row is None:
        return None
    key = sealing.unseal(token, row.sealed_key)
    if key is None:
        return None
    return Resumed(label=row.label, key=key)


def csrf_for(token: str) -> str:
    return sealing.csrf_token(token)


async def close(db: AsyncSession, token: str) -> None:
    await repository.remove(db, sealing.token_hash(token))
