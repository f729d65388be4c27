"""Claims: a message belongs to one worker at a time, and only while its lease lasts."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from changetrail_api.channels import dispatch
from changetrail_api.channels.delivery import Result, Verdict
from changetrail_api.channels.retry import RetryPolicy
from tests.channels.conftest import Serve
from tests.channels.support import AppClient, create_channel, deliveries, post_change

URL = "https://receiver.example/hook"
T0 = datetime.now(UTC)


async def queued(client: AppClient, count: int) -> str:
    """A channel with ``count`` routed deliveries, the worker off."""
    channel = await create_channel(client, kind="webhook", url=URL, max_per_minute=6000)
    for n in range(count):
        await post_change(client, f"Deploy {n}")
    async with client.app.state.sessionmaker.begin() as session:
        await dispatch.route(session, limit=100, now=T0, give_up_after=3600)
    return str(channel["id"])


async def claim(client: AppClient, channel_id: str, now: datetime) -> list[dispatch.Claim]:
    async with client.app.state.sessionmaker.begin() as session:
        claimed = await dispatch.claim_channel(
            session,
            channel_id,
            now=now,
            lease_until=now + timedelta(seconds=10),
            limit=100,
            public_url=None,
        )
    return claimed.claims


async def test_two_workers_claiming_one_channel_at_once_share_nothing(serve: Serve) -> None:
    async with serve(channels_worker=False) as client:
        channel_id = await queued(client, 12)
        first, second = await asyncio.gather(
            claim(client, channel_id, T0), claim(client, channel_id, T0)
        )
    claimed = [item.delivery_id for c in first + second for item in c.message.items]
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 12


async def test_a_claim_whose_lease_ran_out_is_no_longer_its_workers(serve: Serve) -> None:
    async with serve(channels_worker=False) as client:
        channel_id = await queued(client, 3)
        slow = await claim(client, channel_id, T0)
        assert len(slow) == 3
        maker = client.app.state.sessionmaker
        later = T0 + timedelta(seconds=11)
        async with maker.begin() as session:
            assert await dispatch.release_expired(session, later) == 3
        taken_over = await claim(client, channel_id, later)
        async with maker.begin() as session:
            # The slow worker, about to send its next message, finds it is not its own any more.
            assert not await dispatch.renew(session, slow[1], later + timedelta(seconds=10))
            assert await dispatch.renew(session, taken_over[1], later + timedelta(seconds=10))
        # Its late answer changes nothing either; the new owner's does.
        async with maker.begin() as session:
            policy, rng = RetryPolicy(1, 1), random.Random(0)
            late = await dispatch.finish(
                session, slow[0], Result(Verdict.DELIVERED, 200), now=later, policy=policy, rng=rng
            )
            owner = await dispatch.finish(
                session,
                taken_over[0],
                Result(Verdict.DELIVERED, 200),
                now=later,
                policy=policy,
                rng=rng,
            )
        assert late == {"delivered": 0}
        assert owner == {"delivered": 1}
        # Released claims are marked: the receiver may have got them from the first worker.
        assert taken_over[1].maybe_delivered
        log = await deliveries(client, channel_id)
    assert sorted(d["attempts"] for d in log) == [2, 2, 2]


async def test_disabled_and_resting_channels_leave_the_round_to_the_others(serve: Serve) -> None:
    async with serve(channels_worker=False) as client:
        slow = await create_channel(client, name="slow", kind="webhook", url=URL, max_per_minute=1)
        off = await create_channel(client, name="off", kind="webhook", url=URL)
        other = await create_channel(client, name="other", kind="webhook", url=URL)
        maker = client.app.state.sessionmaker

        async def record(summary: str) -> None:
            await post_change(client, summary)
            async with maker.begin() as session:
                await dispatch.route(session, limit=100, now=T0, give_up_after=3600)

        await record("Deploy 1")
        assert len(await claim(client, slow["id"], T0)) == 1  # one a minute: spent
        await record("Deploy 2")
        response = await client.patch(f"/api/v1/channels/{off['id']}", json={"enabled": False})
        assert response.status_code == 200
        async with maker.begin() as session:
            spent = await dispatch.claim_channel(
                session,
                slow["id"],
                now=T0,
                lease_until=T0 + timedelta(seconds=10),
                limit=100,
                public_url=None,
            )
            everyone = await dispatch.due_channels(session, T0, 10, resting=[])
            others = await dispatch.due_channels(session, T0, 10, resting=[slow["id"]])
    assert spent.claims == []
    assert spent.resume_at == T0 + timedelta(minutes=1)
    # The disabled channel's deliveries wait, but take no place in a round.
    assert sorted(everyone) == sorted([slow["id"], other["id"]])
    assert others == [other["id"]]
