from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from changetrail_api.auth import Principal, require
from changetrail_api.channels import service
from changetrail_api.channels.runtime import Runtime
from changetrail_api.channels.schemas import (
    ChannelCreate,
    ChannelEnvelope,
    ChannelListEnvelope,
    ChannelUpdate,
    DeliveryEnvelope,
    DeliveryListEnvelope,
    NewChannelEnvelope,
    Redelivered,
    RedeliveredEnvelope,
    RedeliverRequest,
    StateName,
)
from changetrail_api.deps import SessionDep
from changetrail_api.errors import ProblemError
from changetrail_api.pagination import PageDep
from changetrail_api.scopes import Scope

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])

CanRead = Annotated[Principal, Depends(require(Scope.CHANNELS_READ))]
CanWrite = Annotated[Principal, Depends(require(Scope.CHANNELS_WRITE))]


async def _runtime(request: Request) -> Runtime:  # async: no worker-thread hop
    runtime: Runtime | None = getattr(request.app.state, "channels", None)
    if runtime is None:
        raise ProblemError(503, "Channels are not running in this process yet.")
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


@router.post("", status_code=201)
async def create_channel(
    body: ChannelCreate, principal: CanWrite, session: SessionDep, runtime: RuntimeDep
) -> NewChannelEnvelope:
    """Create a channel; a generated webhook signing secret is in this response only."""
    return NewChannelEnvelope(data=await service.create(session, principal.org_id, body, runtime))


@router.get("")
async def list_channels(
    principal: CanRead, session: SessionDep, page: PageDep, runtime: RuntimeDep
) -> ChannelListEnvelope:
    """List channels (never their destinations)."""
    data, total = await service.list_channels(
        session, principal.org_id, runtime, limit=page.limit, offset=page.offset
    )
    return ChannelListEnvelope(data=data, meta=page.meta(total))


@router.get("/{channel_id}")
async def get_channel(
    channel_id: str, principal: CanRead, session: SessionDep, runtime: RuntimeDep
) -> ChannelEnvelope:
    """Get one channel."""
    return ChannelEnvelope(data=await service.get(session, principal.org_id, channel_id, runtime))


@router.patch("/{channel_id}")
async def update_channel(
    channel_id: str,
    body: ChannelUpdate,
    principal: CanWrite,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ChannelEnvelope:
    """Change a channel; destination fields given replace the stored ones."""
    return ChannelEnvelope(
        data=await service.update(session, principal.org_id, channel_id, body, runtime)
    )


@router.delete("/{channel_id}", status_code=204)
async def delete_channel(channel_id: str, principal: CanWrite, session: SessionDep) -> Response:
    """Delete a channel and its delivery log; what it had not delivered is dropped."""
    await service.delete(session, principal.org_id, channel_id)
    return Response(status_code=204)


@router.post("/{channel_id}/test")
async def test_channel(
    channel_id: str, principal: CanWrite, session: SessionDep, runtime: RuntimeDep
) -> DeliveryEnvelope:
    """Send a test message now; the delivery in the response says how the receiver answered."""
    return DeliveryEnvelope(
        data=await service.send_test(session, principal.org_id, channel_id, runtime)
    )


@router.get("/{channel_id}/deliveries")
async def list_deliveries(
    channel_id: str,
    principal: CanRead,
    session: SessionDep,
    page: PageDep,
    state: Annotated[StateName | None, Query(description="Only deliveries in this state")] = None,
) -> DeliveryListEnvelope:
    """The channel's delivery log, newest first; state=dead lists the dead letters."""
    data, total = await service.deliveries(
        session, principal.org_id, channel_id, state=state, limit=page.limit, offset=page.offset
    )
    return DeliveryListEnvelope(data=data, meta=page.meta(total))


@router.post("/{channel_id}/deliveries/redeliver")
async def redeliver(
    channel_id: str,
    principal: CanWrite,
    session: SessionDep,
    runtime: RuntimeDep,
    body: Annotated[RedeliverRequest | None, Body()] = None,
) -> RedeliveredEnvelope:
    """Queue dead deliveries again (the ones named, or all of the channel's)."""
    ids = body.delivery_ids if body is not None else None
    count = await service.redeliver(session, principal.org_id, channel_id, ids, runtime)
    return RedeliveredEnvelope(data=Redelivered(requeued=count))
