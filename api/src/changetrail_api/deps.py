"""Request-scoped dependencies shared by every endpoint module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.db import session_scope
from changetrail_api.settings import ApiSettings


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    # A context manager, not a loop over a generator: an error the endpoint raises must reach
    # session_scope at once, to roll back and to become the right problem (see db_errors).
    async with session_scope(request.app.state.sessionmaker) as session:
        yield session


async def _settings(request: Request) -> ApiSettings:  # async: no worker-thread hop
    settings: ApiSettings = request.app.state.settings
    return settings


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
SettingsDep = Annotated[ApiSettings, Depends(_settings)]
