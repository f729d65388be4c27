"""All SQL about organisations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import new_id, utcnow_ms
from changetrail_api.orgs.models import Organisation
from changetrail_api.upsert import insert


async def ensure(session: AsyncSession, slug: str) -> Organisation:
    """The organisation with this slug, created if missing (safe under concurrency)."""
    await session.execute(
        insert(session, Organisation)
        .values(id=new_id("org"), slug=slug, name=slug, created_at=utcnow_ms())
        .on_conflict_do_nothing()
    )
    return (
        await session.execute(select(Organisation).where(Organisation.slug == slug))
    ).scalar_one()
