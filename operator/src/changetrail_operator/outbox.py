"""The bounded queue between what the operator observes and what the API has recorded.

Each delivery is a change (or none), the rollouts it completes, and the state to store once
both are recorded. Changes are posted first, then completed rollouts, and the state stored
afterwards, so a crash in between re-posts the same change (same ``external_id``, answered
with 200) or completes it again (the API takes the same completion twice) instead of losing
it. While the API is away,
deliveries wait and are retried with exponential backoff and full jitter; when the queue is
full, ``offer`` refuses and the observer falls back to re-diffing the object later.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from changetrail_operator import metrics
from changetrail_operator.api_client import (
    PUT_BATCH,
    ChangetrailClient,
    RejectedError,
    RetryableError,
    StoredObject,
)
from changetrail_operator.drafts import ChangeDraft, Completion

logger = logging.getLogger(__name__)


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
    ) -> None:
        self._client = client
        self._capacity = capacity
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._rand = rand
        self._queue: collections.deque[Delivery] = collections.deque()
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
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            try:
                await self._deliver_some()
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
            if self._failures:
                logger.info("The API accepts changes again; %d pending.", len(self._queue))
            self._failures = 0
            metrics.QUEUE_DEPTH.set(len(self._queue))
            async with self._changed:
                self._changed.notify_all()
            if self.on_room is not None and len(self._queue) <= self._capacity // 2:
                self.on_room()

    async def _deliver_some(self) -> None:
        to_store: dict[tuple[str, str], StoredObject] = {}
        done = 0
        for delivery in list(self._queue)[: max(PUT_BATCH, 1)]:
            while delivery.posted < len(delivery.changes):
                await self._post(delivery.changes[delivery.posted])
                delivery.posted += 1
            while delivery.completed < len(delivery.completions):
                await self._complete(delivery.completions[delivery.completed])
                delivery.completed += 1
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
            done += 1
            if len(to_store) >= PUT_BATCH:
                break
        await self._flush(to_store)
        for _ in range(done):
            self._queue.popleft()

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

    async def _post(self, draft: ChangeDraft) -> None:
        service_id = None
        if draft.service_name:
            try:
                service_id = await self._client.service_id(draft.service_name)
            except RejectedError as error:
                # A name the API refuses as a service still deserves its change recorded.
                self._rejected(f"the service {draft.service_name!r}", error)
        try:
            await self._client.post_change(draft, service_id)
        except RejectedError as error:
            # The same body would be rejected forever; keeping it would block every later one.
            self._rejected(f"the change {draft.summary!r}", error)
            return
        self.recorded += 1
        metrics.CHANGES_RECORDED.labels(change_type=draft.change_type.value).inc()

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
