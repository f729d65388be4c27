"""Watching the resources ClusterChangePolicies name, for as long as one names them.

kopf serves the kinds registered when it starts (and kinds whose CRD appears later); a
resource a policy names is known only once that policy is read, so it is listed and watched
here, with the operator's own client and the same credentials as kopf's watches. Each
resource is discovered first (its ``kind``, whether it is namespaced; a resource the API does
not serve yet is looked for again later), then listed and watched from the listing's version,
re-listed when that version expires. Its events go to the observer like any other kind's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from changetrail_operator.bodies import as_dict, metadata
from changetrail_operator.inventory import Inventory
from changetrail_operator.kinds.generic import GenericKind
from changetrail_operator.kube_client import KubeError
from changetrail_operator.resources import ApiResource

if TYPE_CHECKING:
    from changetrail_operator.runtime import Runtime

logger = logging.getLogger(__name__)

# How long before a resource the API does not serve (or refuses) is looked for again.
RETRY_SECONDS = 15.0


class PolicyResources:
    def __init__(self, runtime: Runtime, retry_seconds: float = RETRY_SECONDS) -> None:
        self._runtime = runtime
        self._retry = retry_seconds
        self._tasks: dict[ApiResource, asyncio.Task[None]] = {}
        self.inventory: Callable[[], Inventory] | None = None

    @property
    def watched(self) -> set[ApiResource]:
        return set(self._tasks)

    def update(self, wanted: Iterable[ApiResource], inventory: Callable[[], Inventory]) -> None:
        """Watch exactly ``wanted``: start what is new, stop what no policy names any more."""
        self.inventory = inventory
        wanted = set(wanted)
        for resource in wanted - set(self._tasks):
            logger.info("A policy names %s: watching it.", resource.path())
            self._tasks[resource] = asyncio.create_task(
                self._watch_forever(resource), name=f"changetrail watch {resource.plural}"
            )
        for resource in set(self._tasks) - wanted:
            logger.info("No policy names %s any more: no longer watching it.", resource.path())
            self._tasks.pop(resource).cancel()

    async def stop(self) -> None:
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch_forever(self, resource: ApiResource) -> None:
        runtime = self._runtime
        await runtime.loaded.wait()
        while True:
            try:
                found = await runtime.kube.discover(resource)
                if found is None:
                    logger.warning(
                        "%s is not served (yet); looking again in %.0fs.",
                        resource.path(),
                        self._retry,
                    )
                    await asyncio.sleep(self._retry)
                    continue
                kind_name, namespaced = found
                kind = GenericKind(replace(resource, namespaced=namespaced), kind_name)
                runtime.observer.kinds.setdefault(kind.name, kind)
                namespaces: list[str | None] = (
                    list(runtime.settings.watch_namespaces) if namespaced else []
                ) or [None]
                await asyncio.gather(*(self._watch(kind, ns) for ns in namespaces))
            except asyncio.CancelledError:
                raise
            except Exception as error:  # retried: a policy's resource must not stop the operator
                logger.warning("Cannot watch %s yet: %s", resource.path(), error)
                await asyncio.sleep(self._retry)

    async def _watch(self, kind: GenericKind, namespace: str | None) -> None:
        """List, then watch from the listing's version; list again when it expires."""
        runtime = self._runtime
        while True:
            version = ""
            async for page, listed_at in runtime.kube.list_pages(kind.resource, namespace):
                version = listed_at
                for body in page:
                    self._observe(kind, None, body)
            try:
                while True:
                    async for event_type, body in runtime.kube.watch(
                        kind.resource, namespace, version, runtime.settings.watch_server_timeout
                    ):
                        version = str(metadata(body).get("resourceVersion") or version)
                        if event_type != "BOOKMARK":
                            self._observe(kind, event_type, body)
            except KubeError as error:
                if error.status != 410:
                    raise
                logger.info("The watch of %s expired; listing it again.", kind.resource.path())

    def _observe(self, kind: GenericKind, event_type: str | None, body: Mapping[str, Any]) -> None:
        if self.inventory is None or not as_dict(body.get("metadata")):
            return
        self._runtime.observer.observe(kind.name, event_type, body, self.inventory())
