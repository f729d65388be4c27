"""Everything the operator runs besides kopf: the observer, the outbox and their loops.

One ``Runtime`` is built per process and handed to kopf as the ``memo``; the kopf handlers
only translate kopf's calls into calls on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from changetrail_operator import metrics
from changetrail_operator.api_client import ChangetrailClient, RetryableError
from changetrail_operator.dynamic import PolicyResources
from changetrail_operator.kinds import watched_kinds
from changetrail_operator.kube_client import KubeClient
from changetrail_operator.observer import Observer
from changetrail_operator.outbox import Outbox, backoff_delay
from changetrail_operator.resources import ApiResource
from changetrail_operator.settings import OperatorSettings

logger = logging.getLogger(__name__)


@dataclass
class PolicyRef:
    """Where a policy lives, so its status can be refreshed outside its own events."""

    resource: ApiResource
    namespace: str | None
    name: str
    written: tuple[int, int] = (-1, -1)  # (objects matched, changes recorded) last reported


@dataclass
class Runtime:
    settings: OperatorSettings
    http: httpx.AsyncClient
    # For tests: the Kubernetes API URL to log in to instead of the pod's service account.
    kube_server: str | None = None
    rand: Callable[[], float] = random.random
    client: ChangetrailClient = field(init=False)
    # The Kubernetes API besides kopf's watches, with the credentials of kopf's login.
    kube: KubeClient = field(init=False)
    outbox: Outbox = field(init=False)
    observer: Observer = field(init=False)
    # The resources ClusterChangePolicies name, watched with the operator's own client.
    policy_resources: PolicyResources = field(init=False)
    loaded: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    swept: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    policies: dict[str, PolicyRef] = field(init=False, default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.client = ChangetrailClient(self.http, create_services=self.settings.create_services)
        self.outbox = Outbox(
            self.client,
            capacity=self.settings.queue_max,
            retry_base=self.settings.retry_base_seconds,
            retry_max=self.settings.retry_max_seconds,
            rand=self.rand,
            batch_max=self.settings.batch_max,
            batch_wait=self.settings.batch_wait_seconds,
        )
        self.observer = Observer(self.settings, self.outbox, kinds=watched_kinds(self.settings))
        self.kube = KubeClient(connect_timeout=self.settings.watch_connect_timeout)
        self.policy_resources = PolicyResources(self)

    def __copy__(self) -> Runtime:
        # kopf gives every object a shallow copy of the memo. The runtime is one per process:
        # its flags must be seen by all handlers, and 12,000 copies would cost memory for nothing.
        return self

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._load_forever(), name="changetrail state loader"),
            asyncio.create_task(self.outbox.run(), name="changetrail outbox"),
            asyncio.create_task(self._tick_forever(), name="changetrail hpa settler"),
        ]

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.policy_resources.stop()
        await self.kube.close()
        self.observer.close()

    async def _load_forever(self) -> None:
        attempt = 0
        while True:
            try:
                await self.observer.load(self.client)
            except RetryableError as error:
                attempt += 1
                delay = backoff_delay(
                    attempt,
                    self.settings.retry_base_seconds,
                    self.settings.retry_max_seconds,
                    self.rand,
                )
                metrics.API_ERRORS.labels(reason="load").inc()
                logger.warning(
                    "Cannot load recorded states yet (%s); events wait, retrying in %.1fs.",
                    error,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            self.loaded.set()
            return

    async def _tick_forever(self) -> None:
        interval = min(1.0, max(0.05, self.settings.hpa_settle_seconds / 4))
        while True:
            await asyncio.sleep(interval)
            self.observer.tick()

    def finish_sweep(self, existing: Mapping[str, Collection[str]]) -> None:
        """Record what was deleted while the operator was away, given what exists now."""
        deleted = self.observer.sweep(existing)
        logger.info("Caught up with the cluster; %d objects were deleted while away.", deleted)
        self.swept.set()
