"""The bounded queue between what the operator observes and what the API has recorded.

Each delivery is a change (or none), the rollouts it completes, and the state to store once
both are recorded. Deliveries leave the queue in rounds, oldest first: a round is sent once
``batch_max`` deliveries wait or the oldest has waited ``batch_wait`` seconds, and its
changes are posted together (one request to the batch endpoint), then the rollouts it
completes, and the states stored afterwards. So a crash in between re-posts the same change
(same ``external_id``, answered "existing") or completes it again (the API takes the same
completion twice) instead of losing it. A round that fails is retried whole, with exponential
backoff and full jitter, before anything newer is sent: one object's changes never overtake
each other. When the queue is full, ``offer`` refuses and the observer falls back to
re-diffing the object later. An API without the batch endpoint is sent one change per
request, and asked again for batches after a while.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from changetrail_operator import metrics
from changetrail_operator.api_client import (
    CHANGES_BATCH_LIMIT,
    BatchUnsupportedError,
    ChangetrailClient,
    RejectedError,
    RetryableError,
    StoredObject,
)
from changetrail_operator.drafts import ChangeDraft, Completion, Outcome, ended

logger = logging.getLogger(__name__)

# After the API answered that it has no batch endpoint, changes are posted one by one for this
# long before batches are tried again (the API may have been upgraded meanwhile).
SINGLE_POSTS_SECONDS = 600.0
# New service names resolved ahead of the rounds that need them, at most (the client bounds how
# many requests are in flight; this bounds what waits for them).
LOOK_AHEAD_NAMES = 1000
# Rollouts completed at once (one request each: the API completes one change per request).
COMPLETIONS_AT_ONCE = 8


@dataclass(slots=True)
class Delivery:
    changes: list[ChangeDraft]
    store: StoredObject | None = None
    # (cluster, kind, uid) whose stored state is removed once the changes are recorded.
    forget: tuple[str, str, str] | None = None
    # Recorded rollouts that ended, completed after this delivery's changes are posted.
    completions: list[Completion] = field(default_factory=list)
    posted: int = field(default=0)  # changes of this delivery the API has already accepted
    completed: int = field(default=0)  # completions the API has already taken
    queued_at: float = field(default=0.0)  # when it was queued, on the outbox's clock


def backoff_delay(attempt: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Exponential backoff with full jitter: a random delay up to ``base * 2**attempt``."""
    ceiling: float = min(cap, base * float(2 ** min(attempt, 30)))
    return ceiling * rand()


class Outbox:
    def __init__(
        self,
        client: ChangetrailClient,
        *,
        capacity: int,
        retry_base: float = 0.5,
        retry_max: float = 60.0,
        rand: Callable[[], float] = random.random,
        batch_max: int = 500,
        batch_wait: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._capacity = capacity
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._rand = rand
        self._batch_max = max(1, min(batch_max, CHANGES_BATCH_LIMIT))
        self._batch_wait = batch_wait
        self._clock = clock
        self._queue: collections.deque[Delivery] = collections.deque()
        # The deliveries being delivered: the head of the queue, kept there until all is done,
        # so a failure retries exactly them and nothing behind them goes first.
        self._round: list[Delivery] = []
        self._single_posts_until = float("-inf")
        self._ahead: asyncio.Task[None] | None = None  # resolving the next rounds' services
        self._changed = asyncio.Condition()
        self._wakeup = asyncio.Event()
        self._failures = 0
        self.on_room: Callable[[], None] | None = None
        self.recorded = 0

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def full(self) -> bool:
        return len(self._queue) >= self._capacity

    @property
    def failing(self) -> bool:
        return self._failures > 0

    def queued(self) -> list[Delivery]:
        """The deliveries waiting, oldest first."""
        return list(self._queue)

    def offer(self, delivery: Delivery) -> bool:
        """Queue a delivery; ``False`` (and nothing queued) when the queue is full."""
        if self.full:
            return False
        delivery.queued_at = self._clock()
        self._queue.append(delivery)
        metrics.QUEUE_DEPTH.set(len(self._queue))
        self._wakeup.set()
        return True

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate`` holds, re-checked after every delivery round."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    async def run(self) -> None:
        """Deliver forever; never raises on API failures."""
        try:
            await self._deliver_rounds()
        finally:
            if self._ahead is not None:
                self._ahead.cancel()

    async def _deliver_rounds(self) -> None:
        while True:
            if not self._round:
                await self._batch_due()
                self._round = self._take_round()
            try:
                await self._deliver(self._round)
            except RetryableError as error:
                self._failures += 1
                metrics.API_ERRORS.labels(reason=_reason(error.status)).inc()
                delay = backoff_delay(self._failures, self._retry_base, self._retry_max, self._rand)
                logger.warning(
                    "The API is not accepting changes (%s); %d deliveries pending, retrying in "
                    "%.1fs.",
                    error,
                    len(self._queue),
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            for _ in self._round:
                self._queue.popleft()
            self._round = []
            if self._failures:
                logger.info("The API accepts changes again; %d pending.", len(self._queue))
            self._failures = 0
            metrics.QUEUE_DEPTH.set(len(self._queue))
            async with self._changed:
                self._changed.notify_all()
            if self.on_room is not None and len(self._queue) <= self._capacity // 2:
                self.on_room()

    async def _batch_due(self) -> None:
        """Wait until a round is due: ``batch_max`` deliveries wait, or the oldest has waited
        ``batch_wait`` (a lone change is not held longer; a burst fills whole batches)."""
        while True:
            self._wakeup.clear()
            if not self._queue:
                await self._wakeup.wait()
                continue
            waited = self._clock() - self._queue[0].queued_at
            if len(self._queue) >= self._batch_max or waited >= self._batch_wait:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._batch_wait - waited)

    def _take_round(self) -> list[Delivery]:
        """The oldest deliveries, up to ``batch_max`` of them and of their changes (at least
        one delivery, however many changes it has)."""
        taken: list[Delivery] = []
        changes = 0
        for delivery in self._queue:
            unposted = len(delivery.changes) - delivery.posted
            if taken and (len(taken) >= self._batch_max or changes + unposted > self._batch_max):
                break
            taken.append(delivery)
            changes += unposted
        return taken

    async def _deliver(self, deliveries: list[Delivery]) -> None:
        # Every change of the round before any completion: a completion may end a rollout
        # recorded by an earlier delivery of the same round.
        await self._post_changes(deliveries)
        await self._complete_all(deliveries)
        to_store: dict[tuple[str, str], StoredObject] = {}
        for delivery in deliveries:
            if delivery.forget is not None:
                # States stored earlier in this round must land before a removal.
                await self._flush(to_store)
                cluster, kind, uid = delivery.forget
                try:
                    await self._client.delete_state(cluster, kind, uid)
                except RejectedError as error:
                    self._rejected("forgetting a state", error)
            if delivery.store is not None:
                to_store[(delivery.store.kind, delivery.store.uid)] = delivery.store
        await self._flush(to_store)

    async def _complete_all(self, deliveries: list[Delivery]) -> None:
        """Complete the round's ended rollouts, a few at a time: a catch-up ends thousands.
        One rollout's completions stay in order. A failure retries them all with the round;
        the API takes the same completion twice."""
        by_rollout: dict[str, list[Completion]] = {}
        for delivery in deliveries:
            for completion in delivery.completions[delivery.completed :]:
                by_rollout.setdefault(completion.external_id, []).append(completion)
        if not by_rollout:
            return
        limit = asyncio.Semaphore(COMPLETIONS_AT_ONCE)

        async def complete_in_order(completions: list[Completion]) -> None:
            async with limit:
                for completion in completions:
                    await self._complete(completion)

        await _all_of(complete_in_order(completions) for completions in by_rollout.values())
        for delivery in deliveries:
            delivery.completed = len(delivery.completions)

    def _fold_completions(self, deliveries: list[Delivery]) -> None:
        """A rollout that ended before its change was posted is posted ended: no completion
        to send after it. A catch-up meets every workload's first rollout ended already."""
        unposted: dict[str, tuple[Delivery, int]] = {}
        for delivery in deliveries:
            if delivery.completions and delivery.completed == 0:
                kept: list[Completion] = []
                for completion in delivery.completions:
                    start = unposted.pop(completion.external_id, None)
                    if start is None:
                        kept.append(completion)
                        continue
                    owner, index = start
                    owner.changes[index] = ended(owner.changes[index], completion)
                delivery.completions = kept
            # Registered after: a delivery's completions end rollouts recorded before it.
            for index in range(delivery.posted, len(delivery.changes)):
                draft = delivery.changes[index]
                if draft.outcome is Outcome.IN_PROGRESS and draft.external_id:
                    unposted[draft.external_id] = (delivery, index)

    async def _post_changes(self, deliveries: list[Delivery]) -> None:
        self._fold_completions(deliveries)
        unposted = [
            (delivery, index)
            for delivery in deliveries
            for index in range(delivery.posted, len(delivery.changes))
        ]
        if not unposted:
            return
        services = await self._services(
            delivery.changes[index].service_name for delivery, index in unposted
        )
        self._look_ahead()
        if self._clock() >= self._single_posts_until:
            try:
                await self._post_batches(unposted, services)
                return
            except BatchUnsupportedError as error:
                self._single_posts_until = self._clock() + SINGLE_POSTS_SECONDS
                metrics.BATCHES_FAILED.labels(reason="unsupported").inc()
                logger.warning(
                    "The API has no batch endpoint (%s); posting changes one by one for %.0f "
                    "minutes.",
                    error,
                    SINGLE_POSTS_SECONDS / 60,
                )
            except RejectedError as error:
                # Refused as a whole (too large, or not understood): one by one, only the
                # change at fault is dropped.
                metrics.BATCHES_FAILED.labels(reason="rejected").inc()
                logger.warning("The API refused a batch (%s); posting it one by one.", error)
            unposted = [
                (delivery, index) for delivery, index in unposted if index >= delivery.posted
            ]
        for delivery, index in unposted:
            await self._post(delivery.changes[index], services)
            delivery.posted = index + 1

    async def _post_batches(
        self, unposted: list[tuple[Delivery, int]], services: dict[str, str | None]
    ) -> None:
        for chunk in _requests(unposted, self._batch_max):
            drafts = [delivery.changes[index] for delivery, index in chunk]
            try:
                outcomes = await self._client.post_changes(
                    [(draft, _service_of(draft, services)) for draft in drafts]
                )
            except RetryableError as error:
                metrics.BATCHES_FAILED.labels(reason=_reason(error.status)).inc()
                raise
            metrics.BATCHES_SENT.inc()
            metrics.BATCH_SIZE.observe(len(chunk))
            for (delivery, index), draft, outcome in zip(chunk, drafts, outcomes, strict=True):
                if outcome.recorded:
                    self._count_recorded(draft)
                else:
                    # As a single post's 422: the same body would be rejected forever.
                    problem = RejectedError(f"record change: invalid: {outcome.problem}", 422)
                    self._rejected(f"the change {draft.summary!r}", problem)
                delivery.posted = index + 1

    async def _services(self, names: Iterable[str | None]) -> dict[str, str | None]:
        """The ids of the services a round's changes name. Known names come from the
        client's cache; new ones are looked up (or created) concurrently, as many at once as
        the client allows, joining those the look-ahead is resolving already."""
        resolved: dict[str, str | None] = {}

        async def resolve(name: str) -> None:
            try:
                resolved[name] = await self._client.service_id(name)
            except RejectedError as error:
                # A name the API refuses as a service still deserves its change recorded.
                self._rejected(f"the service {name!r}", error)
                resolved[name] = None

        await _all_of(resolve(name) for name in {name for name in names if name})
        return resolved

    def _look_ahead(self) -> None:
        """Resolve the services of the deliveries behind the round while its changes are
        posted, so the next round finds them known (a catch-up creates thousands). Only the
        client's cache is filled: what is posted, and in which order, stays the rounds'."""
        if self._ahead is not None and not self._ahead.done():
            return
        names: dict[str, None] = {}  # in queue order: the next round's names first
        for delivery in itertools.islice(self._queue, len(self._round), None):
            if len(names) >= LOOK_AHEAD_NAMES:
                break
            for draft in delivery.changes[delivery.posted :]:
                name = draft.service_name
                if name and not self._client.known_service(name):
                    names[name] = None
        if names:
            self._ahead = asyncio.create_task(self._resolve_quietly(list(names)))

    async def _resolve_quietly(self, names: list[str]) -> None:
        async def resolve(name: str) -> None:
            # A failure here is met again, and reported, by the round that needs the name.
            with contextlib.suppress(RetryableError, RejectedError):
                await self._client.service_id(name)

        await asyncio.gather(*(resolve(name) for name in names))

    async def _flush(self, to_store: dict[tuple[str, str], StoredObject]) -> None:
        if to_store:
            try:
                await self._client.put_states(list(to_store.values()))
            except RejectedError as error:
                # Without its state the object is re-diffed after a restart; the changes it
                # would re-produce carry the same external_id, so nothing is duplicated.
                self._rejected("storing states", error)
            to_store.clear()

    def _rejected(self, what: str, error: RejectedError) -> None:
        metrics.API_ERRORS.labels(reason=_reason(error.status)).inc()
        logger.error("The API rejected %s, skipping: %s", what, error)

    async def _post(self, draft: ChangeDraft, services: dict[str, str | None]) -> None:
        try:
            await self._client.post_change(draft, _service_of(draft, services))
        except RejectedError as error:
            # The same body would be rejected forever; keeping it would block every later one.
            self._rejected(f"the change {draft.summary!r}", error)
            return
        self._count_recorded(draft)

    def _count_recorded(self, draft: ChangeDraft) -> None:
        self.recorded += 1
        metrics.CHANGES_RECORDED.labels(change_type=draft.change_type.value).inc()
        if draft.outcome is not None and draft.outcome is not Outcome.IN_PROGRESS:
            metrics.ROLLOUTS_COMPLETED.labels(outcome=draft.outcome.value).inc()  # posted ended

    async def _complete(self, completion: Completion) -> None:
        try:
            known = await self._client.complete_change(completion)
        except RejectedError as error:
            # Completed otherwise already (a 409), or a completion the API refuses: retrying
            # the same body cannot help.
            self._rejected(f"the outcome of {completion.external_id!r}", error)
            return
        if not known:
            logger.warning(
                "No recorded change %s to complete as %s.",
                completion.external_id,
                completion.outcome.value,
            )
            return
        metrics.ROLLOUTS_COMPLETED.labels(outcome=completion.outcome.value).inc()


async def _all_of(coroutines: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run them all to their end, then raise the first failure, if any (a retry of the round
    then starts from a known state, with nothing of it still running)."""
    results = await asyncio.gather(*coroutines, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _requests(
    unposted: list[tuple[Delivery, int]], limit: int
) -> Iterator[list[tuple[Delivery, int]]]:
    """The changes to post, cut into requests of at most ``limit`` with one change of an
    object each. The API gives a batch's changes one ``created_at``, by which lists are sorted:
    two changes of one object in the same request could be listed the wrong way round."""
    chunk: list[tuple[Delivery, int]] = []
    objects: set[object] = set()
    for delivery, index in unposted:
        key = _object_of(delivery)
        if len(chunk) >= limit or key in objects:
            yield chunk
            chunk, objects = [], set()
        chunk.append((delivery, index))
        objects.add(key)
    if chunk:
        yield chunk


def _object_of(delivery: Delivery) -> object:
    if delivery.store is not None:
        return (delivery.store.kind, delivery.store.uid)
    if delivery.forget is not None:
        return delivery.forget[1:]
    return id(delivery)


def _service_of(draft: ChangeDraft, services: dict[str, str | None]) -> str | None:
    return services.get(draft.service_name) if draft.service_name else None


def _reason(status: int | None) -> str:
    if status is None:
        return "connection"
    if status in {401, 403}:
        return "auth"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server"
    return "rejected"
