"""Managing channels: create, read, change, delete, test, and their delivery log.

Never commits: the request's session does. Destinations are checked (URL shape, the address
policy) and sealed before they are stored; only their host is ever shown again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from changetrail_api.base import new_id, utcnow_ms
from changetrail_api.channels import repository
from changetrail_api.channels.delivery import Verdict, deliver
from changetrail_api.channels.kinds import DESTINATION_FIELDS, KINDS, Kind
from changetrail_api.channels.models import Channel, ChannelDelivery
from changetrail_api.channels.payloads.cloudevents import new_secret
from changetrail_api.channels.payloads.common import Context, Message
from changetrail_api.channels.rules import Rule
from changetrail_api.channels.runtime import Runtime
from changetrail_api.channels.schemas import (
    Backlog,
    ChannelCreate,
    ChannelOut,
    ChannelUpdate,
    DeliveryOut,
    NewChannelOut,
)
from changetrail_api.channels.sealing import Sealer, SealError
from changetrail_api.channels.ssrf import destination_problem
from changetrail_api.errors import FieldError, NotFoundError, ProblemError

# Fields of a channel that live in ``options`` (not secret, kind-specific).
OPTION_FIELDS = ("dashboard_uid", "panel_id")


def _sealer(runtime: Runtime) -> Sealer:
    if runtime.sealer is None:
        raise ProblemError(
            503,
            "Channels need CHANGETRAIL_SECRET_KEY to encrypt their destinations; set it on "
            "every API replica.",
        )
    return runtime.sealer


def to_out(channel: Channel, backlog: Mapping[str, int], fields: list[str]) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        kind=channel.kind,
        enabled=channel.enabled,
        rules=[Rule.model_validate(rule) for rule in channel.rules],
        max_per_minute=channel.max_per_minute,
        destination_host=channel.destination_host,
        destination_fields=fields,
        dashboard_uid=channel.options.get("dashboard_uid"),
        panel_id=channel.options.get("panel_id"),
        managed=channel.managed,
        backlog=Backlog(pending=backlog.get("pending", 0), dead=backlog.get("dead", 0)),
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def delivery_out(row: ChannelDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        channel_id=row.channel_id,
        change_id=row.change_id,
        state=row.state,
        attempts=row.attempts,
        message_id=row.message_id,
        message_size=row.message_size,
        next_attempt_at=row.next_attempt_at if row.state == repository.PENDING else None,
        give_up_at=row.give_up_at,
        last_status=row.last_status,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


def _destination_fields(kind: Kind, values: Mapping[str, str | None]) -> dict[str, str]:
    """The destination a kind needs, from the fields given; a 422 names what is off."""
    given = {name: value for name, value in values.items() if value is not None}
    unknown = sorted(given.keys() - kind.required - kind.optional)
    if unknown:
        raise FieldError(unknown[0], f"a {kind.name} channel has no {unknown[0]}")
    missing = sorted(kind.required - given.keys())
    if missing:
        raise FieldError(missing[0], f"a {kind.name} channel needs a {missing[0]}")
    return given


def _host(destination: Mapping[str, str]) -> str:
    return urlsplit(destination["url"]).hostname or ""


async def _check_destination(destination: Mapping[str, str], runtime: Runtime) -> None:
    problem = await destination_problem(destination["url"], runtime.policy)
    if problem is not None:
        raise FieldError("url", problem)


def _options(kind: Kind, values: Mapping[str, Any]) -> dict[str, Any]:
    options = {name: values[name] for name in OPTION_FIELDS if values.get(name) is not None}
    if options and kind.name != "grafana":
        raise FieldError(next(iter(options)), "only Grafana channels have this option")
    if "panel_id" in options and "dashboard_uid" not in options:
        raise FieldError("panel_id", "needs a dashboard_uid")
    return options


async def create(
    session: AsyncSession,
    org_id: str,
    body: ChannelCreate,
    runtime: Runtime,
    *,
    managed: bool = False,
) -> NewChannelOut:
    sealer = _sealer(runtime)
    kind = KINDS[body.kind]
    generated: str | None = None
    destination = _destination_fields(kind, body.model_dump(include=set(DESTINATION_FIELDS)))
    if kind.name == "webhook" and "signing_secret" not in destination:
        generated = destination["signing_secret"] = new_secret()
    await _check_destination(destination, runtime)
    options = _options(kind, body.model_dump())
    now = utcnow_ms()
    channel_id = new_id("chn")
    values: dict[str, Any] = {
        "id": channel_id,
        "org_id": org_id,
        "name": body.name,
        "kind": kind.name,
        "enabled": body.enabled,
        "rules": [rule.model_dump(mode="json", exclude_defaults=True) for rule in body.rules],
        "options": options,
        "max_per_minute": body.max_per_minute or kind.default_per_minute,
        "sealed": sealer.seal(destination, channel_id=channel_id),
        "destination_host": _host(destination),
        "managed": managed,
        "rate_tat": None,
        "created_at": now,
        "updated_at": now,
    }
    if not await repository.insert_channel(session, values):
        raise ProblemError(409, f"A channel named {body.name!r} exists already.")
    out = to_out(Channel(**values), {}, sorted(destination))
    return NewChannelOut(**out.model_dump(), signing_secret=generated)


async def _owned(session: AsyncSession, org_id: str, channel_id: str) -> Channel:
    channel = await repository.get(session, org_id, channel_id)
    if channel is None:
        raise NotFoundError("channel", channel_id)
    return channel


def _unseal(runtime: Runtime, channel: Channel) -> dict[str, str]:
    try:
        return _sealer(runtime).unseal(channel.sealed, channel_id=channel.id)
    except SealError as exc:
        raise ProblemError(409, str(exc)) from None


async def _with_backlog(
    session: AsyncSession, channels: list[Channel], runtime: Runtime
) -> list[ChannelOut]:
    backlog = await repository.backlog(session, [c.id for c in channels])
    out = []
    for channel in channels:
        try:
            fields = sorted(_unseal(runtime, channel)) if runtime.sealer else []
        except ProblemError:
            fields = []  # shown, but with no destination it can open: the log says why
        out.append(to_out(channel, backlog.get(channel.id, {}), fields))
    return out


async def get(session: AsyncSession, org_id: str, channel_id: str, runtime: Runtime) -> ChannelOut:
    channel = await _owned(session, org_id, channel_id)
    return (await _with_backlog(session, [channel], runtime))[0]


async def list_channels(
    session: AsyncSession, org_id: str, runtime: Runtime, *, limit: int, offset: int
) -> tuple[list[ChannelOut], int]:
    rows, total = await repository.page(session, org_id, limit=limit, offset=offset)
    return await _with_backlog(session, rows, runtime), total


def _refuse_managed(channel: Channel) -> None:
    if channel.managed:
        raise ProblemError(
            409,
            f"Channel {channel.name!r} is declared in configuration (the Helm values); "
            "change it there.",
        )


async def update(
    session: AsyncSession, org_id: str, channel_id: str, body: ChannelUpdate, runtime: Runtime
) -> ChannelOut:
    channel = await _owned(session, org_id, channel_id)
    _refuse_managed(channel)
    return await apply_update(session, channel, body, runtime)


async def apply_update(
    session: AsyncSession, channel: Channel, body: ChannelUpdate, runtime: Runtime
) -> ChannelOut:
    """Change a channel (from the API, or from its declaration in configuration)."""
    given = body.model_dump(exclude_unset=True)
    kind = KINDS[channel.kind]
    values: dict[str, Any] = {"updated_at": utcnow_ms()}
    if given.get("name") is not None and given["name"] != channel.name:
        if await repository.name_taken(session, channel.org_id, given["name"], channel.id):
            raise ProblemError(409, f"A channel named {given['name']!r} exists already.")
        values["name"] = given["name"]
    if given.get("enabled") is not None:
        values["enabled"] = given["enabled"]
    if "rules" in given and body.rules is not None:
        values["rules"] = [r.model_dump(mode="json", exclude_defaults=True) for r in body.rules]
    if given.get("max_per_minute") is not None:
        values["max_per_minute"] = given["max_per_minute"]
    if any(name in given for name in OPTION_FIELDS):
        merged = {**channel.options, **{n: given[n] for n in OPTION_FIELDS if n in given}}
        values["options"] = _options(kind, merged)
    new_fields = {n: given[n] for n in DESTINATION_FIELDS if given.get(n) is not None}
    if new_fields:
        destination = _destination_fields(kind, {**_unseal(runtime, channel), **new_fields})
        await _check_destination(destination, runtime)
        values["sealed"] = _sealer(runtime).seal(destination, channel_id=channel.id)
        values["destination_host"] = _host(destination)
    await repository.update_channel(session, channel.id, values)
    for name, value in values.items():
        setattr(channel, name, value)
    return (await _with_backlog(session, [channel], runtime))[0]


async def delete(session: AsyncSession, org_id: str, channel_id: str) -> None:
    channel = await _owned(session, org_id, channel_id)
    _refuse_managed(channel)
    await repository.remove(session, org_id, channel_id)


def context_for(channel: Channel, runtime: Runtime) -> Context:
    return Context(
        org_id=channel.org_id,
        channel_id=channel.id,
        channel_name=channel.name,
        public_url=runtime.settings.public_url,
        options=dict(channel.options),
    )


async def send_test(
    session: AsyncSession, org_id: str, channel_id: str, runtime: Runtime
) -> DeliveryOut:
    """Send a test message now and log it as a delivery: the answer says what happened."""
    channel = await _owned(session, org_id, channel_id)
    destination = _unseal(runtime, channel)
    message = Message(id=new_id("msg"), items=(), test=True)
    result = await deliver(
        KINDS[channel.kind],
        message,
        context_for(channel, runtime),
        destination,
        runtime.transport,
        maybe_delivered=False,
    )
    now = utcnow_ms()
    delivered = result.verdict is Verdict.DELIVERED
    row = ChannelDelivery(
        id=new_id("dlv"),
        org_id=org_id,
        channel_id=channel.id,
        change_id=None,
        state=repository.DELIVERED if delivered else repository.DEAD,
        message_id=message.id,
        claim_id=None,
        attempts=1,
        maybe_delivered=False,
        message_size=0,
        next_attempt_at=now,
        give_up_at=now,
        last_status=result.status,
        last_error=result.error,
        created_at=now,
        updated_at=now,
        delivered_at=now if delivered else None,
    )
    await repository.add_delivery(session, row)
    return delivery_out(row)


async def deliveries(
    session: AsyncSession,
    org_id: str,
    channel_id: str,
    *,
    state: str | None,
    limit: int,
    offset: int,
) -> tuple[list[DeliveryOut], int]:
    await _owned(session, org_id, channel_id)
    rows, total = await repository.deliveries_page(
        session, channel_id, state=state, limit=limit, offset=offset
    )
    return [delivery_out(row) for row in rows], total


async def redeliver(
    session: AsyncSession,
    org_id: str,
    channel_id: str,
    delivery_ids: list[str] | None,
    runtime: Runtime,
) -> int:
    """Dead deliveries back in the queue, with a fresh give-up deadline."""
    await _owned(session, org_id, channel_id)
    now = utcnow_ms()
    give_up = now + timedelta(seconds=runtime.settings.channels_give_up_after_seconds)
    return await repository.redeliver(
        session, channel_id, delivery_ids, now=now, give_up_at=give_up
    )


async def declare(
    session: AsyncSession, org_id: str, body: ChannelCreate, runtime: Runtime
) -> Channel:
    """Make the organisation's channel of this name exactly what configuration declares.

    A declared channel is created, or rewritten in full (destination included) when it
    exists; one created through the API with the same name is taken over. Its delivery log
    and rate budget stay.
    """
    existing = await repository.by_name(session, org_id, body.name)
    if existing is not None and existing.kind != body.kind:
        await repository.remove(session, org_id, existing.id)
        existing = None
    if existing is None:
        created = await create(session, org_id, body, runtime, managed=True)
        channel = await repository.get(session, org_id, created.id)
        assert channel is not None
        return channel
    kind = KINDS[body.kind]
    destination = _destination_fields(kind, body.model_dump(include=set(DESTINATION_FIELDS)))
    await _check_destination(destination, runtime)
    values: dict[str, Any] = {
        "enabled": body.enabled,
        "rules": [rule.model_dump(mode="json", exclude_defaults=True) for rule in body.rules],
        "options": _options(kind, body.model_dump()),
        "max_per_minute": body.max_per_minute or kind.default_per_minute,
        "sealed": _sealer(runtime).seal(destination, channel_id=existing.id),
        "destination_host": _host(destination),
        "managed": True,
        "updated_at": utcnow_ms(),
    }
    await repository.update_channel(session, existing.id, values)
    return existing


async def forget_undeclared(session: AsyncSession, declared: set[tuple[str, str]]) -> list[str]:
    """Delete the channels configuration declared before but no longer does; returns names."""
    removed = []
    for channel in await repository.managed(session):
        if (channel.org_id, channel.name) not in declared:
            await repository.remove(session, channel.org_id, channel.id)
            removed.append(channel.name)
    return removed


async def lock_declarations(session: AsyncSession) -> None:
    """Hold the declared channels for this transaction: one replica applies them at a time."""
    await repository.lock_declarations(session)
