"""All SQL about web sessions (and only about them: pages read everything else via services)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.web.models import WebSession


async def add(session: AsyncSession, row: WebSession) -> None:
    session.add(row)
    await session.flush()


async def get_live(session: AsyncSession, id_hash: str, now: datetime) -> WebSession | None:
    return (
        await session.execute(
            select(WebSession).where(WebSession.id_hash == id_hash, WebSession.expires_at > now)
        )
    ).scalar_one_or_none()


async def remove(session: AsyncSession, id_hash: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.id_hash == id_hash))


async def remove_expired(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
