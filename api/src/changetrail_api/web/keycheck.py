"""Verifying an API key exactly as the API does for ``Authorization: Bearer``.

The pages hold no key logic of their own: every page request presents the viewer's key to
``changetrail_api.auth.authenticate``, so revocation, the key cache and the per-key rate limit
apply to the pages as they apply to the API, and no page can see more than the key could.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from changetrail_api.auth import Principal, authenticate
from changetrail_api.errors import ProblemError


async def principal_for(request: Request, db: AsyncSession, key: str) -> Principal:
    """The key's principal; a ProblemError (401 unknown or revoked, 429 rate limited) else."""
    try:
        bearer = b"Bearer " + key.encode("ascii")
    except UnicodeEncodeError:
        raise ProblemError(401, "Invalid or revoked API key.") from None
    headers = [(k, v) for k, v in request.scope["headers"] if k.lower() != b"authorization"]
    keyed = Request({**request.scope, "headers": [*headers, (b"authorization", bearer)]})
    return await authenticate(keyed, db)
