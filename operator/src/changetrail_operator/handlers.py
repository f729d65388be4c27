"""kopf handlers: a thin layer from kopf's events and indices to the ``Runtime``.

Only ``@kopf.index`` and ``@kopf.on.event`` touch watched kinds, so kopf never adds a
finalizer, an annotation or a status to them. The only writes are the status subresources of
ChangePolicy and ClusterChangePolicy objects. Only kopf's public API is used here; what the
operator still needs of kopf's internals is in ``kopf_internals``.

The handlers are registered per run (``build_registry``), for the kinds the settings ask for:
a kind that is not watched (Secrets, unless asked for) gets no watch at all, so the operator
needs no permission on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import kopf

from changetrail_operator import policy_status
from changetrail_operator.bodies import as_dict
from changetrail_operator.inventory import NamespaceInfo
from changetrail_operator.kinds import Kind
from changetrail_operator.kopf_internals import Insights, ObserverMemories, serve_late_kinds
from changetrail_operator.kube_client import KubeError
from changetrail_operator.policies import (
    GROUP,
    VERSION,
    Policy,
    PolicyError,
    named_resources,
    parse_policy,
)
from changetrail_operator.resources import ApiResource
from changetrail_operator.runtime import PolicyRef, Runtime

logger = logging.getLogger(__name__)

NAMESPACES = ApiResource("", "v1", "namespaces", namespaced=False)
CHANGE_POLICIES = ApiResource(GROUP, VERSION, "changepolicies")
CLUSTER_CHANGE_POLICIES = ApiResource(GROUP, VERSION, "clusterchangepolicies", namespaced=False)
_ANNOTATION_PREFIX = "changetrail.io/"


def configure_kopf(settings: kopf.OperatorSettings, runtime: Runtime) -> None:
    # A pure observer posts no Events and takes no part in peering.
    settings.posting.enabled = False
    settings.peering.standalone = True
    # kopf watches CRDs to serve a kind whose CRD is installed after the start (Argo
    # Rollouts); without such a kind, nothing needs rescanning and the RBAC may omit CRDs.
    settings.scanning.disabled = not runtime.settings.watch_argo_rollouts
    # Every watch ends server-side, is cut client-side a little later, and is re-opened when
    # no event or bookmark arrives for a while: a silently hung connection cannot last.
    settings.watching.server_timeout = runtime.settings.watch_server_timeout
    settings.watching.client_timeout = runtime.settings.watch_client_timeout
    settings.watching.connect_timeout = runtime.settings.watch_connect_timeout
    settings.watching.inactivity_timeout = max(70.0, runtime.settings.watch_server_timeout / 4)
    # Lists, discovery and status patches are short requests; watches use the timeouts above.
    settings.networking.request_timeout = 60.0
    # Lists come in pages of 100: what a listing holds at once (parsed objects, their workers)
    # stays small however many objects there are; 10,000 ConfigMaps are 100 short requests.
    settings.watching.chunk_size = 100
    # A per-object worker holds its last event's body while it idles. Handling an event here
    # takes well under a millisecond, so idle workers exit soon: a listing of 10,000 objects
    # must not keep 10,000 bodies alive for kopf's default of five seconds.
    settings.queueing.idle_timeout = 0.5


async def run(runtime: Runtime, memories: ObserverMemories | None = None, **options: Any) -> None:
    """Run kopf with the changetrail handlers until it stops; ``options`` go to kopf."""
    kinds = list(runtime.observer.kinds.values())
    registry = build_registry(kinds)
    settings = options.pop("settings", None) or kopf.OperatorSettings()
    insights = Insights()
    wanted = [(kind.resource.group, kind.resource.plural) for kind in kinds]
    late_kinds = asyncio.create_task(
        serve_late_kinds(wanted, settings=settings, registry=registry, insights=insights),
        name="changetrail late kinds",
    )
    try:
        await kopf.operator(
            registry=registry,
            settings=settings,
            insights=insights,
            memo=runtime,
            memories=memories
            if memories is not None
            else ObserverMemories([k.name for k in kinds]),
            standalone=True,
            **options,
        )
    finally:
        late_kinds.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await late_kinds


async def start(settings: kopf.OperatorSettings, memo: Runtime, **_: Any) -> None:
    configure_kopf(settings, memo)
    await memo.start()
    # kopf starts watching once startup is over. Given the recorded states first, the initial
    # listing is handled as it arrives instead of piling up one waiting worker (and body) per
    # object. Bounded, because kopf serves the liveness probe only after startup too: with the
    # API down, events wait in the handlers instead (see ``_observer_of``).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(memo.loaded.wait(), memo.settings.startup_load_wait_seconds)
    memo.spawn(refresh_policy_counts(memo), name="changetrail policy status")
    memo.spawn(sweep_deletions(memo), name="changetrail deletion sweep")


async def stop(memo: Runtime, **_: Any) -> None:
    await memo.stop()


async def credentials(memo: Runtime, **kwargs: Any) -> kopf.ConnectionInfo | None:
    """The pod's service account, else the kubeconfig (or the test's server), through kopf's
    public login functions; the operator's own requests take them too (see ``kube_client``)."""
    info: kopf.ConnectionInfo | None
    if memo.kube_server is not None:
        info = kopf.ConnectionInfo(server=memo.kube_server, insecure=True)
    else:
        info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    if info is not None:
        memo.kube.log_in(info)
    return info


async def login(memo: Runtime, **kwargs: Any) -> kopf.ConnectionInfo | None:
    # kopf calls this at start and again whenever the API refuses its credentials (a rotated
    # token). Asynchronous, so that it runs in the event loop of the client it updates rather
    # than in a worker thread.
    return await credentials(memo, **kwargs)


def pending(memo: Runtime, **_: Any) -> str:
    return memo.observer.pending_summary()


# Indices: filled from the initial listings before any event handler runs --------------------


def _prefixed(values: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {key: value for key, value in values.items() if key.startswith(prefix)}


def namespace_info(
    name: str, labels: Mapping[str, str], annotations: Mapping[str, str], **_: Any
) -> dict[str, NamespaceInfo]:
    return {name: NamespaceInfo(dict(labels), _prefixed(annotations, _ANNOTATION_PREFIX))}


def _parsed(name: str, namespace: str | None, spec: Mapping[str, Any], meta: Any) -> Policy | str:
    try:
        return parse_policy(name, namespace, spec, meta.get("generation"))
    except PolicyError as error:
        return str(error)


def change_policies(
    name: str, namespace: str | None, spec: Mapping[str, Any], meta: Any, **_: Any
) -> dict[str, Policy | str]:
    return {f"{namespace}/{name}": _parsed(name, namespace, spec, meta)}


def cluster_change_policies(
    name: str, spec: Mapping[str, Any], meta: Any, **_: Any
) -> dict[str, Policy | str]:
    return {name: _parsed(name, None, spec, meta)}


INDICES = ("namespace_info", "change_policies", "cluster_change_policies")


class KopfInventory:
    """The observer's view of namespaces and policies, answered from kopf's indices."""

    def __init__(self, indices: Mapping[str, Any]) -> None:
        self._namespaces: kopf.Index[str, NamespaceInfo] = indices["namespace_info"]
        self._policies = [
            *indices["change_policies"].values(),
            *indices["cluster_change_policies"].values(),
        ]

    def namespace(self, name: str | None) -> NamespaceInfo:
        for info in self._namespaces.get(name or "", []):
            return info
        return NamespaceInfo()

    def policies(self) -> Sequence[Policy]:
        return [item for store in self._policies for item in store if isinstance(item, Policy)]


# Events ----------------------------------------------------------------------------------


def _observer_of(kind: Kind[Any]) -> Callable[..., Awaitable[None]]:
    async def observe(event: Mapping[str, Any], memo: Runtime, **kwargs: Any) -> None:
        await memo.loaded.wait()
        memo.observer.observe(kind.name, event.get("type"), event["object"], KopfInventory(kwargs))

    return observe


def _report_policy(
    event: Mapping[str, Any],
    parsed: Policy | str,
    reference: str,
    resource: ApiResource,
    namespace: str | None,
    name: str,
    status: Mapping[str, Any],
    patch: kopf.Patch,
    memo: Runtime,
) -> None:
    if event.get("type") == "DELETED":
        memo.policies.pop(reference, None)
        return
    counts = _counts(memo, reference)
    wanted = policy_status.policy_status(
        generation=(event["object"].get("metadata") or {}).get("generation"),
        error=parsed if isinstance(parsed, str) else None,
        objects_matched=counts[0],
        changes_recorded=counts[1],
        previous=status,
    )
    ref = memo.policies.setdefault(reference, PolicyRef(resource, namespace, name))
    ref.written = counts
    if policy_status.needs_update(status, wanted):
        patch.status.update(wanted)


def _counts(memo: Runtime, reference: str) -> tuple[int, int]:
    matched = sum(1 for governed in memo.observer.governed.values() if governed == reference)
    return matched, memo.observer.recorded_by_policy.get(reference, 0)


def change_policy_event(
    event: Mapping[str, Any],
    name: str,
    namespace: str | None,
    spec: Mapping[str, Any],
    meta: Any,
    status: Mapping[str, Any],
    patch: kopf.Patch,
    memo: Runtime,
    **_: Any,
) -> None:
    parsed = _parsed(name, namespace, spec, meta)
    reference = f"ChangePolicy/{namespace}/{name}"
    _report_policy(event, parsed, reference, CHANGE_POLICIES, namespace, name, status, patch, memo)


async def cluster_change_policy_event(
    event: Mapping[str, Any],
    name: str,
    spec: Mapping[str, Any],
    meta: Any,
    status: Mapping[str, Any],
    patch: kopf.Patch,
    memo: Runtime,
    **kwargs: Any,
) -> None:
    parsed = _parsed(name, None, spec, meta)
    reference = f"ClusterChangePolicy/{name}"
    _report_policy(
        event, parsed, reference, CLUSTER_CHANGE_POLICIES, None, name, status, patch, memo
    )
    # Asynchronous, so that it runs in the event loop the watches of named resources need.
    # kopf's indices are live: an inventory made from them later sees later policies too.
    indices = {key: kwargs[key] for key in INDICES}
    inventory = KopfInventory(indices)
    memo.policy_resources.update(
        named_resources(inventory.policies()), lambda: KopfInventory(indices)
    )


async def refresh_policy_counts(memo: Runtime) -> None:
    """Keep the counts in policy statuses current between the policies' own events."""
    while True:
        await asyncio.sleep(memo.settings.policy_status_interval)
        for reference, ref in list(memo.policies.items()):
            counts = _counts(memo, reference)
            if counts == ref.written or not memo.kube.logged_in:
                continue
            status = {"objectsMatched": counts[0], "changesRecorded": counts[1]}
            try:
                # False when the policy is gone: its deletion event forgets it.
                await memo.kube.patch_status(ref.resource, ref.namespace, ref.name, status)
            except Exception as error:  # a status refresh must never stop the operator
                logger.warning("Cannot refresh the status of %s: %s", reference, error)
                continue
            ref.written = counts


async def sweep_deletions(memo: Runtime) -> None:
    """Once the recorded states are loaded, list the watched kinds to find what was deleted.

    A listing of uids of our own, rather than kopf indices: those would hold every handler
    until each of 10,000s of objects is indexed (see ``workloads``). A kind the cluster does
    not serve (no Argo Rollouts CRD) is left out: absence there proves nothing.
    """
    await memo.loaded.wait()
    namespaces: list[str | None] = list(memo.settings.watch_namespaces) or [None]
    while True:
        try:
            existing: dict[str, set[str]] = {}
            for kind in list(memo.observer.kinds.values()):
                uids: set[str] = set()
                try:
                    for namespace in namespaces:
                        async for page in memo.kube.list_objects(kind.resource, namespace):
                            uids.update(
                                str(as_dict(obj.get("metadata")).get("uid")) for obj in page
                            )
                except KubeError as error:
                    if error.status != 404:
                        raise
                    continue
                existing[kind.name] = uids
        except Exception as error:  # retried: a missed sweep would miss deletions until restart
            logger.warning("Cannot list objects to find deletions yet: %s", error)
            await asyncio.sleep(memo.settings.retry_max_seconds)
            continue
        memo.finish_sweep(existing)
        return


def build_registry(kinds: Sequence[Kind[Any]]) -> kopf.OperatorRegistry:
    """The handlers of one run: the operator's own, and an event handler per watched kind and
    nothing else on them (see the module's docstring)."""
    registry = kopf.OperatorRegistry()
    kopf.on.startup(registry=registry)(start)
    kopf.on.cleanup(registry=registry)(stop)
    kopf.on.login(registry=registry)(login)
    kopf.on.probe(id="pending", registry=registry)(pending)
    kopf.index(*NAMESPACES.selector, registry=registry)(namespace_info)
    kopf.index(*CHANGE_POLICIES.selector, registry=registry)(change_policies)
    kopf.index(*CLUSTER_CHANGE_POLICIES.selector, registry=registry)(cluster_change_policies)
    kopf.on.event(*CHANGE_POLICIES.selector, registry=registry)(change_policy_event)
    kopf.on.event(*CLUSTER_CHANGE_POLICIES.selector, registry=registry)(cluster_change_policy_event)
    for kind in kinds:
        handler = _observer_of(kind)
        kopf.on.event(*kind.resource.selector, id=kind.resource.plural, registry=registry)(handler)
    return registry
