"""Organisations: each appears on first use of its slug. Never commits: the caller does."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.orgs import repository
from changetrail_api.orgs.models import Organisation


async def ensure(session: AsyncSession, slug: str) -> Organisation:
    """The organisation with this slug, created if missing (safe under concurrency)."""
    return await repository.ensure(session, slug)
