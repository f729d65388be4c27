"""Single writes that arrive together, stored together: one statement and one commit for a group.

A busy API takes many single posts at once (a CI fleet, the operator of a large cluster). Each
stored on its own costs a round trip, a commit and a bump of the same counter rows (the total,
the day, each tag), one request after another. Stored as a group they cost one of each, and
the counter rows are bumped once by the group's count.

Nothing waits on a timer to fill a group: while a group is being stored, the writes that
arrive meanwhile gather, and the next group takes all of them. One write alone is stored at
once, as a group of one; under load a group holds what arrived during the previous one.

Each write still answers for itself, after its group was committed: its own result, or its
own error. A group that fails for a reason one of its items may have caused (a value the
database refuses, a conflict) is stored again item by item, so that item fails alone; one that
fails because the database is busy or down fails for every item in it, as each would have.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from changetrail_api.errors import ProblemError
from changetrail_api.metrics import GROUP_COMMIT_SIZE

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

# What storing a group answers per item, in the items' order: a result, or that item's error.
Store = Callable[[Sequence[ItemT]], Awaitable[Sequence[ResultT | Exception]]]


def _fails_every_item(error: BaseException) -> bool:
    """The database could not take the group at all (503): alone, each item would fail too."""
    return isinstance(error, ProblemError) and error.status == 503


class GroupCommit(Generic[ItemT, ResultT]):
    """Coalesces concurrent writes into groups for ``store``.

    ``max_items`` bounds a group (a statement's size); ``concurrency`` is how many groups
    may be in flight at once, so one group's round trip overlaps the next one's preparation.
    """

    def __init__(
        self, store: Store[ItemT, ResultT], *, max_items: int = 128, concurrency: int = 2
    ) -> None:
        if max_items < 1 or concurrency < 1:
            raise ValueError("max_items and concurrency must be at least 1")
        self._store = store
        self._max_items = max_items
        self._concurrency = concurrency
        self._pending: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._running = 0
        self._start_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: ItemT) -> ResultT:
        """Store ``item`` with whatever else is pending; its result once its group committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ResultT] = loop.create_future()
        self._pending.append((item, future))
        if self._running < self._concurrency and not self._start_scheduled:
            # On the next turn of the loop, so the writes of requests being handled in this
            # turn join the group.
            self._start_scheduled = True
            loop.call_soon(self._start)
        return await future

    def _start(self) -> None:
        self._start_scheduled = False
        if not self._pending or self._running >= self._concurrency:
            return
        self._running += 1
        task = asyncio.get_running_loop().create_task(self._drain())
        self._tasks.add(task)  # a reference, so the task is not collected while it runs
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        try:
            while self._pending:
                group = self._pending[: self._max_items]
                del self._pending[: self._max_items]
                # A request that went away before its group was taken is not stored for it.
                group = [(item, future) for item, future in group if not future.done()]
                if group:
                    await self._store_group(group)
        finally:
            self._running -= 1

    async def _store_group(self, group: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        GROUP_COMMIT_SIZE.observe(len(group))
        try:
            results = await self._store([item for item, _ in group])
        except asyncio.CancelledError:
            for _, future in group:
                future.cancel()  # shutting down: the waiting requests end too, none hangs
            raise
        except Exception as error:  # whatever it is, each item's request gets it (or a retry)
            if len(group) == 1 or _fails_every_item(error):
                for _, future in group:
                    _settle(future, error)
                return
            for member in group:
                await self._store_group([member])
            return
        for (_, future), result in zip(group, results, strict=True):
            _settle(future, result)


def _settle(future: asyncio.Future[ResultT], result: ResultT | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
