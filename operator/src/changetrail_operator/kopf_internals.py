"""Every kopf internal the operator relies on, in one place: the rest uses kopf's public API.

kopf offers no public way to do two things the operator needs:

- **Trimming kopf's per-object memory.** kopf keeps a ``ResourceMemory`` for every object it
  has seen, for as long as the object exists: an error throttler, daemon and indexing state, a
  memo and a pending patch, about a kilobyte each. The watched kinds have only ``on.event``
  handlers: no daemons, no indices, no patches, no change-detecting handlers that would need
  "seen before". ``ObserverMemories`` therefore makes their memory for each event and drops it
  after, so that watching 12,000 objects costs what the observer keeps (a fingerprint each),
  not kopf's bookkeeping. Namespaces and policies keep kopf's full memory: they are indexed
  and patched.
- **Counting watch-stream restarts.** kopf reports them only as debug messages of its watching
  module's logger; ``count_watch_restarts`` counts those messages.
- **Serving a kind whose CRD appears after the start** (Argo Rollouts installed later). kopf
  reads the API's discovery again only when a CRD changes; when the last change of a new CRD
  (its ``Established`` condition) comes before the API's discovery lists the kind, which
  happens on a busy API server, kopf never serves it until some CRD of that group changes
  again. ``serve_late_kinds`` re-reads discovery for a wanted kind that is not served yet, now
  and then, through the same function kopf calls on a CRD's change.

``tests/operator/test_kopf_internals.py`` checks each name, signature and message used here
against the installed kopf, and fails saying which moved when an upgrade moves one.
``KOPF_VERSION`` is the release they were last checked against; it must match the pin.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

import kopf
from kopf._cogs.structs import ephemera  # kopf exports no name for a memo's type
from kopf._cogs.structs.references import Insights as Insights  # kopf.operator takes one
from kopf._core.reactor.inventory import ResourceMemories, ResourceMemory
from kopf._core.reactor.observation import process_discovered_resource_event

from changetrail_operator import metrics

KOPF_VERSION = "1.45.2"

# The logger of kopf's watch streams, and how its messages on re-opening a stream begin.
WATCHING_LOGGER = "kopf._cogs.clients.watching"
RESTARTED = "Restarting the watch-stream"  # after 410 Gone: the stream re-lists
INACTIVE = "Watch-stream for"  # ... "is inactive, reconnecting": no event for too long
INACTIVE_MARK = "inactive"


class ObserverMemories(ResourceMemories):
    """kopf's memories, kept only for objects of kinds other than ``event_only_kinds``."""

    def __init__(self, event_only_kinds: Collection[str]) -> None:
        super().__init__()
        self._event_only_kinds = frozenset(event_only_kinds)

    async def recall(
        self,
        raw_body: kopf.RawBody,
        *,
        memobase: ephemera.AnyMemo | None = None,
        noticed_by_listing: bool = False,
        ephemeral: bool = False,
    ) -> ResourceMemory:
        # Listed objects carry their kind too: kopf sets it from the list's kind.
        if raw_body.get("kind") in self._event_only_kinds:
            ephemeral = True
        return await super().recall(
            raw_body,
            memobase=memobase,
            noticed_by_listing=noticed_by_listing,
            ephemeral=ephemeral,
        )

    def __len__(self) -> int:
        return len(self._items)


class _WatchRestartCounter(logging.Filter):
    """Counts kopf's watch-stream restarts, which kopf only reports in debug logs."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(RESTARTED):
            metrics.WATCH_RESTARTS.labels(reason="gone").inc()
        elif message.startswith(INACTIVE) and INACTIVE_MARK in message:
            metrics.WATCH_RESTARTS.labels(reason="inactive").inc()
        return self.verbose or record.levelno > logging.DEBUG


def count_watch_restarts(verbose: bool) -> None:
    """Count watch restarts in the metrics; show kopf's debug messages only when verbose."""
    watching = logging.getLogger(WATCHING_LOGGER)
    if not any(isinstance(item, _WatchRestartCounter) for item in watching.filters):
        watching.addFilter(_WatchRestartCounter(verbose))
        watching.setLevel(logging.DEBUG)


async def serve_late_kinds(
    wanted: Collection[tuple[str, str]],
    *,
    settings: kopf.OperatorSettings,
    registry: kopf.OperatorRegistry,
    insights: Insights,
    every: float = 10.0,
) -> None:
    """Until cancelled: every ``every`` seconds, re-read discovery for each API group with a
    wanted ``(group, plural)`` that kopf does not watch yet. Costs nothing once all are served,
    and nothing while kopf's own scanning is off (then no CRD is expected to appear)."""
    while True:
        await asyncio.sleep(every)
        if settings.scanning.disabled or not insights.ready_resources.is_set():
            continue
        served = {(resource.group, resource.plural) for resource in insights.watched_resources}
        for group in sorted({group for group, plural in wanted if (group, plural) not in served}):
            # What kopf does when a CRD of this group changes: read the group's discovery.
            event = {"type": "MODIFIED", "object": {"spec": {"group": group}}}
            await process_discovered_resource_event(
                raw_event=event,  # type: ignore[arg-type]
                settings=settings,
                registry=registry,
                insights=insights,
            )
