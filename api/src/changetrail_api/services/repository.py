"""All SQL about services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.services.models import Service
from changetrail_api.upsert import insert


async def get(session: AsyncSession, org_id: str, service_id: str) -> Service | None:
    return (
        await session.execute(
            select(Service).where(Service.org_id == org_id, Service.id == service_id)
        )
    ).scalar_one_or_none()


async def find_by_name_or_slug(session: AsyncSession, org_id: str, value: str) -> Service | None:
    return (
        await session.execute(
            select(Service)
            .where(Service.org_id == org_id, or_(Service.name == value, Service.slug == value))
            .order_by(Service.name == value)  # an exact name beats a slug
            .limit(1)
        )
    ).scalar_one_or_none()


async def insert_if_new(session: AsyncSession, values: dict[str, Any]) -> bool:
    """False when the name or slug is taken in the organisation."""
    statement = (
        insert(session, Service).values(**values).on_conflict_do_nothing().returning(Service.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def name_or_slug_taken(
    session: AsyncSession, org_id: str, name: str, slug: str, *, except_id: str | None = None
) -> bool:
    statement = select(func.count()).where(
        Service.org_id == org_id, or_(Service.name == name, Service.slug == slug)
    )
    if except_id is not None:
        statement = statement.where(Service.id != except_id)
    return int((await session.execute(statement)).scalar_one()) > 0


async def page(
    session: AsyncSession,
    org_id: str,
    *,
    name: str | None,
    slug: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Service], int]:
    conditions = [Service.org_id == org_id]
    if name is not None:
        conditions.append(Service.name == name)
    if slug is not None:
        conditions.append(Service.slug == slug)
    rows = (
        (
            await session.execute(
                select(Service)
                .where(*conditions)
                .order_by(Service.name, Service.id)
                .limit(limit)
                .offset(offset)
            )
        )
        .scalars()
        .all()
    )
    total = int(
        (
            await session.execute(select(func.count()).select_from(Service).where(*conditions))
        ).scalar_one()
    )
    return list(rows), total


async def remove(session: AsyncSession, service: Service) -> None:
    await session.execute(delete(Service).where(Service.id == service.id))
