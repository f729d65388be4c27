"""Bearer API keys: who is calling, for which organisation, with which scopes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from changetrail_api.db import session_scope
from changetrail_api.errors import ProblemError
from changetrail_api.keys import service as keys_service
from changetrail_api.scopes import Scope
from changetrail_api.security import hash_secret


@dataclass(frozen=True, slots=True)
class Principal:
    org_id: str
    key_id: str
    scopes: frozenset[str]

    def has(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes


class KeyCache:
    """Verified keys for a few seconds, so each request does not pay a key look-up.

    Revocation through this process evicts at once; other replicas notice within ``ttl``.
    """

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._looking_up: dict[str, asyncio.Future[Principal | None]] = {}

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key_hash: str, principal: Principal) -> None:
        if self._ttl <= 0:
            return
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key_hash] = (time.monotonic() + self._ttl, principal)

    async def look_up_once(
        self, key_hash: str, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> Principal | None:
        """The key's principal from the database, None for no active key. Requests that miss
        the cache together (when an entry expires under load) share one look-up instead of
        all opening a session at once."""
        running = self._looking_up.get(key_hash)
        if running is None:
            running = asyncio.ensure_future(self._look_up_in_own_session(key_hash, sessionmaker))
            self._looking_up[key_hash] = running
            running.add_done_callback(lambda _: self._looking_up.pop(key_hash, None))
        return await asyncio.shield(running)

    @staticmethod
    async def _look_up_in_own_session(
        key_hash: str, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> Principal | None:
        async with session_scope(sessionmaker) as session:
            return await _look_up(session, key_hash)

    def evict_key(self, key_id: str) -> None:
        for key_hash, (_, principal) in list(self._entries.items()):
            if principal.key_id == key_id:
                del self._entries[key_hash]


class RateLimiter:
    """A token bucket per key: ``per_minute`` sustained, the same again as a burst."""

    def __init__(self, per_minute: int) -> None:
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key_id: str) -> bool:
        if self._rate <= 0:
            return True
        now = time.monotonic()
        tokens, stamp = self._buckets.get(key_id, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - stamp) * self._rate)
        if tokens < 1:
            self._buckets[key_id] = (tokens, now)
            return False
        self._buckets[key_id] = (tokens - 1, now)
        return True


async def _look_up(session: AsyncSession, key_hash: str) -> Principal | None:
    row = await keys_service.active_key(session, key_hash)
    if row is None:
        return None
    return Principal(org_id=row.org_id, key_id=row.id, scopes=frozenset(row.scopes))


_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="changetrail"'}


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise ProblemError(
            401,
            "Missing API key: send 'Authorization: Bearer <key>'.",
            headers=_UNAUTHORIZED_HEADERS,
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError(
            401,
            "Malformed Authorization header: expected 'Bearer <key>'.",
            headers=_UNAUTHORIZED_HEADERS,
        )
    return token.strip()


# Declares the scheme in the OpenAPI document (and so in /docs' "Authorize" dialog); the header
# itself is read by _bearer, which words its own 401s.
_BEARER_SCHEME = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key: `Authorization: Bearer ak_live_...`.",
)


async def authenticate(request: Request, session: AsyncSession | None = None) -> Principal:
    """The caller of this request; ``session`` for the key look-up, else one of its own."""
    token = _bearer(request)
    key_hash = hash_secret(token)
    state = request.app.state
    principal: Principal | None = state.key_cache.get(key_hash)
    if principal is None:
        if session is None:
            principal = await state.key_cache.look_up_once(key_hash, state.sessionmaker)
        else:
            principal = await _look_up(session, key_hash)
        if principal is None:
            raise ProblemError(401, "Invalid or revoked API key.", headers=_UNAUTHORIZED_HEADERS)
        state.key_cache.put(key_hash, principal)
    if not state.rate_limiter.allow(principal.key_id):
        raise ProblemError(
            429,
            "Rate limit exceeded for this API key; retry shortly.",
            headers={"Retry-After": "1"},
        )
    return principal


def check_scope(principal: Principal, scope: Scope) -> None:
    """A 403 unless the caller's key has ``scope`` (or ``admin``)."""
    if not principal.has(scope):
        raise ProblemError(403, f"This API key lacks the '{scope}' scope.")


def require(scope: Scope) -> Callable[..., Coroutine[Any, Any, Principal]]:
    # One dependency (with the scheme's declaration under it), not a chain: each level of
    # FastAPI's dependency solving costs every request as much as the key check itself.
    async def dependency(
        request: Request,
        _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER_SCHEME)] = None,
    ) -> Principal:
        principal = await authenticate(request)
        check_scope(principal, scope)
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency
