"""API keys: issued once in plaintext, kept as hashes."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import new_id, utcnow_ms
from changetrail_api.errors import NotFoundError
from changetrail_api.keys import repository
from changetrail_api.keys.models import ApiKey
from changetrail_api.keys.schemas import ApiKeyOut, NewApiKeyOut
from changetrail_api.orgs import service as orgs_service
from changetrail_api.scopes import Scope
from changetrail_api.security import display_prefix, hash_secret, new_api_key, same_secret

logger = logging.getLogger(__name__)

# What the operator calls and nothing more: it records and completes changes (and finds one by
# external_id to complete it), finds and creates services, and keeps its state store.
OPERATOR_KEY_SCOPES = frozenset(
    {
        Scope.CHANGES_READ,
        Scope.CHANGES_WRITE,
        Scope.SERVICES_READ,
        Scope.SERVICES_WRITE,
        Scope.OPERATOR,
    }
)
OPERATOR_KEY_NAME = "operator"


class EnsuredKey(StrEnum):
    """What ensuring a configured key found."""

    CREATED = "created"
    PRESENT = "present"
    # A key with this value exists but is not the one configured (other scopes, another
    # organisation, revoked): it is left as it is.
    MISMATCHED = "mismatched"


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
    org = await orgs_service.ensure(session, org_slug)
    return await issue(session, org.id, name, scopes)


async def ensure_bootstrap(session: AsyncSession, org_slug: str, plaintext: str) -> None:
    """Make sure an admin key with exactly this value exists (idempotent across restarts)."""
    org = await orgs_service.ensure(session, org_slug)
    await repository.add_if_missing(session, _row(org.id, "bootstrap", [Scope.ADMIN], plaintext))


async def ensure_operator_key(session: AsyncSession, org_slug: str, plaintext: str) -> EnsuredKey:
    """Make sure the operator's key exists with exactly the operator's scopes (idempotent
    across restarts and replicas: the insert does nothing when the hash is already there).

    A key with this value that is not what this asks for is never widened, narrowed or
    revived behind its owner's back: it is logged and left alone.
    """
    org = await orgs_service.ensure(session, org_slug)
    row = _row(org.id, OPERATOR_KEY_NAME, OPERATOR_KEY_SCOPES, plaintext)
    scopes = [str(scope) for scope in row.scopes]
    if await repository.add_if_missing(session, row):
        logger.info(
            "Created the operator's API key %s... (scopes %s).", row.prefix, ", ".join(scopes)
        )
        return EnsuredKey.CREATED
    existing = await repository.get_by_hash(session, row.key_hash)
    problem = _mismatch(existing, org.id, scopes)
    if problem is None:
        return EnsuredKey.PRESENT
    logger.error(
        "The configured operator API key (%s...) already exists but %s; it is left as it is. "
        "Give the operator a new key, or fix this one with the API key endpoints.",
        row.prefix,
        problem,
    )
    return EnsuredKey.MISMATCHED


def _mismatch(existing: ApiKey | None, org_id: str, scopes: list[str]) -> str | None:
    """Why an existing key is not the operator key asked for, or None when it is."""
    if existing is None:  # deleted between the insert and this read: nothing to compare
        return "could not be read back"
    if existing.org_id != org_id:
        return "belongs to another organisation"
    if existing.revoked_at is not None:
        return "was revoked"
    if sorted(existing.scopes) != scopes:
        return f"has scopes {', '.join(sorted(existing.scopes))} instead of {', '.join(scopes)}"
    return None


async def active_key(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """The unrevoked key with this hash, or None: what authenticating a request asks."""
    key = await repository.get_active_by_hash(session, key_hash)
    if key is None or not same_secret(key.key_hash, key_hash):
        return None
    return key


async def list_keys(
    session: AsyncSession, org_id: str, *, limit: int, offset: int
) -> tuple[list[ApiKeyOut], int]:
    rows, total = await repository.page(session, org_id, limit=limit, offset=offset)
    return [to_out(row) for row in rows], total


async def revoke(session: AsyncSession, org_id: str, key_id: str) -> None:
    """Revoke a key of this organisation; revoking twice is fine, a foreign key is a 404."""
    revoked = await repository.revoke(session, org_id, key_id)
    if not revoked and not await repository.exists(session, org_id, key_id):
        raise NotFoundError("API key", key_id)
