"""API keys: issued once in plaintext, kept as hashes."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import new_id, utcnow_ms
from changetrail_api.keys import repository
from changetrail_api.keys.models import ApiKey
from changetrail_api.keys.schemas import ApiKeyOut, NewApiKeyOut
from changetrail_api.orgs import repository as orgs_repository
from changetrail_api.scopes import Scope
from changetrail_api.security import display_prefix, hash_secret, new_api_key


def to_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=list(key.scopes),
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


def _row(org_id: str, name: str, scopes: Iterable[str], plaintext: str) -> ApiKey:
    return ApiKey(
        id=new_id("key"),
        org_id=org_id,
        name=name,
        key_hash=hash_secret(plaintext),
        prefix=display_prefix(plaintext),
        scopes=sorted(set(scopes)),
        created_at=utcnow_ms(),
        revoked_at=None,
    )


async def issue(
    session: AsyncSession, org_id: str, name: str, scopes: Iterable[str]
) -> NewApiKeyOut:
    plaintext = new_api_key()
    row = _row(org_id, name, scopes, plaintext)
    await repository.add(session, row)
    return NewApiKeyOut(**to_out(row).model_dump(), key=plaintext)


async def issue_for_org_slug(
    session: AsyncSession, org_slug: str, name: str, scopes: Iterable[str]
) -> NewApiKeyOut:
    org = await orgs_repository.ensure(session, org_slug)
    return await issue(session, org.id, name, scopes)


async def ensure_bootstrap(session: AsyncSession, org_slug: str, plaintext: str) -> None:
    """Make sure an admin key with exactly this value exists (idempotent across restarts)."""
    org = await orgs_repository.ensure(session, org_slug)
    await repository.add_if_missing(session, _row(org.id, "bootstrap", [Scope.ADMIN], plaintext))
