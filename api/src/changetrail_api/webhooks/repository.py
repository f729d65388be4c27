"""All SQL about webhook endpoints."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.webhooks.models import WebhookEndpoint


async def add(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    session.add(endpoint)
    await session.flush()


async def by_token_hash(
    session: AsyncSession, kind: str, token_hash: str
) -> WebhookEndpoint | None:
    return (
        await session.execute(
            select(WebhookEndpoint).where(
                WebhookEndpoint.token_hash == token_hash, WebhookEndpoint.kind == kind
            )
        )
    ).scalar_one_or_none()


async def page(
    session: AsyncSession, org_id: str, *, limit: int, offset: int
) -> tuple[list[WebhookEndpoint], int]:
    rows = (
        (
            await session.execute(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.org_id == org_id)
                .order_by(WebhookEndpoint.created_at.desc(), WebhookEndpoint.id.desc())
                .limit(limit)
                .offset(offset)
            )
        )
        .scalars()
        .all()
    )
    total = (
        await session.execute(select(func.count()).where(WebhookEndpoint.org_id == org_id))
    ).scalar_one()
    return list(rows), int(total)


async def remove(session: AsyncSession, org_id: str, endpoint_id: str) -> bool:
    result = await session.execute(
        delete(WebhookEndpoint)
        .where(WebhookEndpoint.org_id == org_id, WebhookEndpoint.id == endpoint_id)
        .returning(WebhookEndpoint.id)
    )
    return result.scalar_one_or_none() is not None
