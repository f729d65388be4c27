"""What kopf remembers per object, trimmed to what a pure observer needs.

kopf keeps a ``ResourceMemory`` for every object it has seen, for as long as the object
exists: an error throttler, daemon and indexing state, a memo and a pending patch, about a
kilobyte each. The watched kinds (Deployments, ConfigMaps, HPAs) have only ``on.event``
handlers: no daemons, no indices, no patches, no change-detecting handlers that would need
"seen before". Their memory is therefore made for each event and dropped after it, so that
watching 12,000 objects costs what the observer keeps (a fingerprint each), not kopf's
bookkeeping. Namespaces and policies keep kopf's full memory: they are indexed and patched.
"""

from __future__ import annotations

from collections.abc import Collection

from kopf._cogs.structs import bodies, ephemera  # kopf exports no names for these types
from kopf._core.reactor.inventory import ResourceMemories, ResourceMemory


class ObserverMemories(ResourceMemories):
    def __init__(self, event_only_kinds: Collection[str]) -> None:
        super().__init__()
        self._event_only_kinds = frozenset(event_only_kinds)

    async def recall(
        self,
        raw_body: bodies.RawBody,
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
