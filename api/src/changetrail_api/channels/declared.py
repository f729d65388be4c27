"""Channels declared in configuration (the Helm values), synchronised when the API starts.

``CHANGETRAIL_CHANNELS_FILE`` names a JSON file, ``{"channels": [...]}``, each entry a channel
as ``POST /api/v1/channels`` takes it plus ``org`` (an organisation slug, default the
bootstrap organisation). The chart renders it into a Secret, since it holds destinations.

At start the API makes the declared channels exist exactly as declared, and deletes the ones
an earlier version of the file declared and this one does not; channels created through the
API are left alone (unless one of the same name is declared: configuration wins). Declared
channels are read-only through the API. Replicas starting together take turns (an advisory
lock on PostgreSQL), so they cannot interleave two versions of the file.

A file that does not parse, or declares a channel that is invalid, stops the start-up with a
message naming the entry: a half-applied configuration would be worse.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.channels import service
from changetrail_api.channels.runtime import Runtime
from changetrail_api.channels.schemas import ChannelCreate
from changetrail_api.errors import ProblemError
from changetrail_api.orgs import service as orgs_service

logger = logging.getLogger(__name__)


class DeclaredChannelsError(RuntimeError):
    """The channels file cannot be applied; the message says where and why."""


class DeclaredChannel(ChannelCreate):
    org: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = Field(
        default=None, description="organisation slug; default: the bootstrap organisation"
    )


class DeclaredFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: Annotated[list[DeclaredChannel], Field(max_length=500)] = Field(default_factory=list)


def load(path: str) -> list[DeclaredChannel]:
    try:
        document = json.loads(Path(path).read_text())
        declared = DeclaredFile.model_validate(document).channels
    except OSError as exc:
        raise DeclaredChannelsError(f"cannot read the channels file {path}: {exc}") from exc
    except ValueError as exc:  # JSON and validation errors both
        detail = exc.errors() if isinstance(exc, ValidationError) else str(exc)
        raise DeclaredChannelsError(f"the channels file {path} is invalid: {detail}") from exc
    names = [(d.org, d.name) for d in declared]
    duplicates = sorted({name for org, name in names if names.count((org, name)) > 1})
    if duplicates:
        raise DeclaredChannelsError(f"the channels file declares {duplicates} more than once")
    for entry in declared:
        if entry.kind == "webhook" and entry.signing_secret is None:
            raise DeclaredChannelsError(
                f"channel {entry.name!r}: a declared webhook channel needs a signing_secret "
                "(a generated one could not be shown to anyone)"
            )
    return declared


async def sync(
    session: AsyncSession, declared: list[DeclaredChannel], runtime: Runtime, default_org: str
) -> None:
    await service.lock_declarations(session)
    kept: set[tuple[str, str]] = set()
    for entry in declared:
        org = await orgs_service.ensure(session, entry.org or default_org)
        body = ChannelCreate.model_validate(entry.model_dump(exclude={"org"}))
        try:
            channel = await service.declare(session, org.id, body, runtime)
        except ProblemError as exc:
            raise DeclaredChannelsError(f"channel {entry.name!r}: {exc.detail}") from exc
        kept.add((channel.org_id, channel.name))
    removed = await service.forget_undeclared(session, kept)
    logger.info(
        "channels from configuration: %d declared, %d removed (%s)",
        len(declared),
        len(removed),
        ", ".join(removed) or "none",
    )
