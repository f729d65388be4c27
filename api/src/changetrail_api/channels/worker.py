"""The delivery worker: one asyncio task per API process, safe to run in every replica.

Each round it routes queued changes into deliveries, returns expired claims to the queue,
then serves each channel with due deliveries: claim (one transaction), send (no transaction),
record the outcome (one transaction). Channels are served concurrently, a channel's own
messages one after another so they arrive in order.

Nothing is lost when a process stops at any point: a change is in the outbox from the moment
it is committed until the transaction that creates its deliveries commits; a claimed message
whose worker dies is released when its lease runs out and sent again, marked as possibly
delivered so that receivers which can be asked (Grafana) are asked first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from changetrail_api.base import utcnow_ms
from changetrail_api.channels import dispatch, metrics
from changetrail_api.channels.delivery import Result, Verdict, deliver
from changetrail_api.channels.dispatch import Claim
from changetrail_api.channels.kinds import KINDS
from changetrail_api.channels.runtime import Runtime
from changetrail_api.channels.sealing import SealError

logger = logging.getLogger(__name__)
T = TypeVar("T")

ROUTE_BATCH = 500
CLAIM_BATCH = 500
CHANNELS_PER_ROUND = 64
HOUSEKEEPING_SECONDS = 60.0
# After a failed round (the database away), wait this many polls before the next one.
ERROR_BACKOFF_POLLS = 10


class Worker:
    def __init__(
        self,
        maker: async_sessionmaker[AsyncSession],
        runtime: Runtime,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._maker = maker
        self._runtime = runtime
        self._settings = runtime.settings
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._slots = asyncio.Semaphore(self._settings.channels_concurrency)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_housekeeping = 0.0
        # Channels whose budget is spent, and until when: left out of the next rounds' pick so
        # that they cannot take every slot while others wait (an optimisation only: the budget
        # itself is on the channel's row, shared by every replica).
        self._resting: dict[str, datetime] = {}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="changetrail-channels-worker")

    async def stop(self) -> None:
        """Let the current round finish (its calls are bounded by their timeout), then stop."""
        self._stopping.set()
        if self._task is None:
            return
        grace = self._settings.channels_timeout_seconds * 2 + 1
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        poll = self._settings.channels_poll_seconds
        while not self._stopping.is_set():
            try:
                busy = await self.run_once()
                pause = 0.0 if busy else poll
            except Exception:
                metrics.WORKER_ERRORS.inc()
                logger.warning("channel delivery round failed; retrying shortly", exc_info=True)
                pause = poll * ERROR_BACKOFF_POLLS
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), pause)

    async def _in_transaction(self, step: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self._maker.begin() as session:
            return await step(session)

    async def run_once(self) -> bool:
        """One round; True when it did something (the next round then starts at once)."""
        now = utcnow_ms()
        routed = await self._in_transaction(
            lambda s: dispatch.route(
                s,
                limit=ROUTE_BATCH,
                now=now,
                give_up_after=self._settings.channels_give_up_after_seconds,
            )
        )
        await self._in_transaction(lambda s: dispatch.release_expired(s, now))
        self._resting = {cid: until for cid, until in self._resting.items() if until > now}
        resting = list(self._resting)
        channel_ids = await self._in_transaction(
            lambda s: dispatch.due_channels(s, now, CHANNELS_PER_ROUND, resting=resting)
        )
        served = await asyncio.gather(
            *(self._serve(channel_id) for channel_id in channel_ids), return_exceptions=True
        )
        for outcome in served:
            if isinstance(outcome, BaseException):
                # That channel's claim stays with its lease and is sent again when it runs out.
                metrics.WORKER_ERRORS.inc()
                logger.warning("serving a channel failed", exc_info=outcome)
        if time.monotonic() >= self._next_housekeeping:
            await self._housekeeping()
        return routed > 0 or any(outcome is True for outcome in served)

    async def _serve(self, channel_id: str) -> bool:
        async with self._slots:
            now = utcnow_ms()
            lease_until = now + timedelta(seconds=self._settings.channels_lease_seconds)
            claimed = await self._in_transaction(
                lambda s: dispatch.claim_channel(
                    s,
                    channel_id,
                    now=now,
                    lease_until=lease_until,
                    limit=CLAIM_BATCH,
                    public_url=self._settings.public_url,
                )
            )
            if claimed.resume_at is not None:
                self._resting[channel_id] = claimed.resume_at
            claims = claimed.claims
            for claim in claims:
                if await self._renew(claim):
                    await self._record(claim, await self._send(claim))
            return bool(claims)

    async def _renew(self, claim: Claim) -> bool:
        # Each call gets a whole lease, which outlasts it (the settings make sure), so no other
        # worker can take the message over while it is being sent.
        until = utcnow_ms() + timedelta(seconds=self._settings.channels_lease_seconds)
        async with self._maker.begin() as session:
            return await dispatch.renew(session, claim, until)

    async def _send(self, claim: Claim) -> Result:
        kind = KINDS[claim.kind]
        sealer = self._runtime.sealer
        if sealer is None:
            # Retried, not dead-lettered: a replica missing the key must not lose messages that
            # a correctly configured one can send.
            return Result(Verdict.RETRY, error="CHANGETRAIL_SECRET_KEY is not set on this replica")
        try:
            destination = sealer.unseal(claim.sealed, channel_id=claim.channel_id)
        except SealError as exc:
            return Result(Verdict.RETRY, error=str(exc))
        started = time.perf_counter()
        result = await deliver(
            kind,
            claim.message,
            claim.context,
            destination,
            self._runtime.transport,
            maybe_delivered=claim.maybe_delivered,
        )
        metrics.SEND_SECONDS.labels(kind.name).observe(time.perf_counter() - started)
        metrics.MESSAGES.labels(kind.name, "digest" if claim.message.is_digest else "single").inc()
        return result

    async def _record(self, claim: Claim, result: Result) -> None:
        now = utcnow_ms()
        counts = await self._in_transaction(
            lambda s: dispatch.finish(
                s, claim, result, now=now, policy=self._runtime.retry, rng=self._rng
            )
        )
        for outcome, count in counts.items():
            if count:
                metrics.DELIVERIES.labels(claim.kind, outcome).inc(count)
        if counts.get("delivered"):
            for recorded in claim.recorded_at:
                metrics.LATENCY.labels(claim.kind).observe((now - recorded).total_seconds())
        if result.verdict is not Verdict.DELIVERED:
            logger.info(
                "channel %s: message %s not delivered (%s): %s",
                claim.channel_id,
                claim.message.id,
                result.verdict,
                result.error,
            )

    async def _housekeeping(self) -> None:
        self._next_housekeeping = time.monotonic() + HOUSEKEEPING_SECONDS
        before = utcnow_ms() - timedelta(days=self._settings.channels_log_days)
        await self._in_transaction(lambda s: dispatch.prune(s, before))
        counts = await self._in_transaction(dispatch.backlog)
        for state in ("pending", "sending", "dead"):
            metrics.BACKLOG.labels(state).set(counts.get(state, 0))
