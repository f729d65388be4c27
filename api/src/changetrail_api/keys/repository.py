"""All SQL about API keys."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import utcnow_ms
from changetrail_api.keys.models import ApiKey
from changetrail_api.upsert import insert


async def get_active_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    return (
        await session.execute(
            select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )
    ).scalar_one_or_none()


async def add(session: AsyncSession, key: ApiKey) -> None:
    session.add(key)
    await session.flush()


async def get_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """The key with this hash, revoked or not."""
    return (
        await session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))
    ).scalar_one_or_none()


async def add_if_missing(session: AsyncSession, key: ApiKey) -> bool:
    """Insert the key unless one with its hash exists; True if this call inserted it.

    ON CONFLICT on the unique hash, so replicas starting together insert it once.
    """
    result = await session.execute(
        insert(session, ApiKey)
        .values(
            id=key.id,
            org_id=key.org_id,
            name=key.name,
            key_hash=key.key_hash,
            prefix=key.prefix,
            scopes=key.scopes,
            created_at=key.created_at,
        )
        .on_conflict_do_nothing()
        # RETURNING, not rowcount: some drivers do not report the rows an upsert skipped.
        .returning(ApiKey.id)
    )
    return result.scalar_one_or_none() is not None


async def page(
    session: AsyncSession, org_id: str, *, limit: int, offset: int
) -> tuple[list[ApiKey], int]:
    rows = (
        (
            await session.execute(
                select(ApiKey)
                .where(ApiKey.org_id == org_id)
                .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
                .limit(limit)
                .offset(offset)
            )
        )
        .scalars()
        .all()
    )
    total = (
        await session.execute(select(func.count()).where(ApiKey.org_id == org_id))
    ).scalar_one()
    return list(rows), int(total)


async def revoke(session: AsyncSession, org_id: str, key_id: str) -> bool:
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.org_id == org_id, ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow_ms())
        .returning(ApiKey.id)
    )
    return result.scalar_one_or_none() is not None


async def exists(session: AsyncSession, org_id: str, key_id: str) -> bool:
    found = await session.execute(
        select(ApiKey.id).where(ApiKey.org_id == org_id, ApiKey.id == key_id)
    )
    return found.scalar_one_or_none() is not None
