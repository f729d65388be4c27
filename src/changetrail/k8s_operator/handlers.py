"""kopf handlers: a thin layer from kopf's events and indices to the ``Runtime``.

Only ``@kopf.index`` and ``@kopf.on.event`` touch watched kinds, so kopf never adds a
finalizer, an annotation or a status to them. The only writes are the status subresources of
ChangePolicy and ClusterChangePolicy objects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

import kopf

from changetrail.k8s_operator import policy_status, snapshots
from changetrail.k8s_operator.inventory import Consumer, NamespaceInfo
from changetrail.k8s_operator.observer import CONFIGMAP, DEPLOYMENT, HPA
from changetrail.k8s_operator.policies import GROUP, VERSION, Policy, PolicyError, parse_policy
from changetrail.k8s_operator.runtime import PolicyRef, Runtime

logger = logging.getLogger(__name__)

registry = kopf.OperatorRegistry()

DEPLOYMENTS = ("apps", "v1", "deployments")
CONFIGMAPS = ("", "v1", "configmaps")
HPAS = ("autoscaling", "v2", "horizontalpodautoscalers")
NAMESPACES = ("", "v1", "namespaces")
CHANGE_POLICIES = (GROUP, VERSION, "changepolicies")
CLUSTER_CHANGE_POLICIES = (GROUP, VERSION, "clusterchangepolicies")
# Label keys kept in indices: the ones service mapping reads (never whole label sets).
_MAPPING_LABELS = ("app.kubernetes.io/part-of", "app.kubernetes.io/name")
_ANNOTATION_PREFIX = "changetrail.io/"


def configure_kopf(settings: kopf.OperatorSettings, runtime: Runtime) -> None:
    # A pure observer posts no Events and takes no part in peering.
    settings.posting.enabled = False
    settings.peering.standalone = True
    # CRDs and namespaces are not rescanned: the RBAC grants no access to CRDs.
    settings.scanning.disabled = True
    # Every watch ends server-side, is cut client-side a little later, and is re-opened when
    # no event or bookmark arrives for a while: a silently hung connection cannot last.
    settings.watching.server_timeout = runtime.settings.watch_server_timeout
    settings.watching.client_timeout = runtime.settings.watch_client_timeout
    settings.watching.connect_timeout = runtime.settings.watch_connect_timeout
    settings.watching.inactivity_timeout = max(70.0, runtime.settings.watch_server_timeout / 4)
    # Lists, discovery and status patches are short requests; watches use the timeouts above.
    settings.networking.request_timeout = 60.0
    settings.watching.chunk_size = 500  # list 10,000 ConfigMaps without one huge response
    runtime.kopf_settings = settings


@kopf.on.startup(registry=registry)
async def start(settings: kopf.OperatorSettings, memo: Runtime, **_: Any) -> None:
    configure_kopf(settings, memo)
    await memo.start()
    memo.spawn(refresh_policy_counts(memo), name="changetrail policy status")


@kopf.on.cleanup(registry=registry)
async def stop(memo: Runtime, **_: Any) -> None:
    await memo.stop()


@kopf.on.login(registry=registry)
def login(memo: Runtime, **kwargs: Any) -> kopf.ConnectionInfo | None:
    if memo.kube_server is not None:
        return kopf.ConnectionInfo(server=memo.kube_server, insecure=True)
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
        **kwargs
    ) or kopf.login_with_kubeconfig(**kwargs)
    return info


@kopf.on.probe(id="pending", registry=registry)
def pending(memo: Runtime, **_: Any) -> str:
    return memo.observer.pending_summary()


# Indices: filled from the initial listings before any event handler runs --------------------


def _subset(
    values: Mapping[str, str], keys: Sequence[str] = (), prefix: str = ""
) -> dict[str, str]:
    return {
        key: value
        for key, value in values.items()
        if key in keys or (prefix and key.startswith(prefix))
    }


@kopf.index(*NAMESPACES, registry=registry)
def namespace_info(
    name: str, labels: Mapping[str, str], annotations: Mapping[str, str], **_: Any
) -> dict[str, NamespaceInfo]:
    return {name: NamespaceInfo(dict(labels), _subset(annotations, prefix=_ANNOTATION_PREFIX))}


@kopf.index(*DEPLOYMENTS, registry=registry)
def deployment_uids(uid: str, **_: Any) -> dict[str, str]:
    return {DEPLOYMENT: uid}


@kopf.index(*DEPLOYMENTS, registry=registry)
def configmap_consumers(
    namespace: str | None,
    name: str,
    spec: Mapping[str, Any],
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    **_: Any,
) -> dict[tuple[str | None, str], Consumer]:
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    consumer = Consumer(
        kind=DEPLOYMENT,
        name=name,
        labels=_subset(labels, _MAPPING_LABELS),
        annotations=_subset(annotations, prefix=_ANNOTATION_PREFIX),
    )
    return {(namespace, cm): consumer for cm in snapshots.referenced_configmaps(pod_spec)}


@kopf.index(*CONFIGMAPS, registry=registry)
def configmap_uids(uid: str, **_: Any) -> dict[str, str]:
    return {CONFIGMAP: uid}


@kopf.index(*HPAS, registry=registry)
def hpa_uids(uid: str, **_: Any) -> dict[str, str]:
    return {HPA: uid}


@kopf.index(*HPAS, registry=registry)
def scale_targets(namespace: str | None, body: Mapping[str, Any], **_: Any) -> dict[Any, bool]:
    target = snapshots.hpa_target(body)
    return {(namespace, target[0], target[1]): True} if target else {}


def _parsed(name: str, namespace: str | None, spec: Mapping[str, Any], meta: Any) -> Policy | str:
    try:
        return parse_policy(name, namespace, spec, meta.get("generation"))
    except PolicyError as error:
        return str(error)


@kopf.index(*CHANGE_POLICIES, registry=registry)
def change_policies(
    name: str, namespace: str | None, spec: Mapping[str, Any], meta: Any, **_: Any
) -> dict[str, Policy | str]:
    return {f"{namespace}/{name}": _parsed(name, namespace, spec, meta)}


@kopf.index(*CLUSTER_CHANGE_POLICIES, registry=registry)
def cluster_change_policies(
    name: str, spec: Mapping[str, Any], meta: Any, **_: Any
) -> dict[str, Policy | str]:
    return {name: _parsed(name, None, spec, meta)}


class KopfInventory:
    """The observer's view of the cluster, answered from kopf's indices."""

    def __init__(self, indices: Mapping[str, Any]) -> None:
        self._namespaces: kopf.Index[str, NamespaceInfo] = indices["namespace_info"]
        self._consumers: kopf.Index[Any, Consumer] = indices["configmap_consumers"]
        self._targets: kopf.Index[Any, bool] = indices["scale_targets"]
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

    def autoscaled(self, namespace: str | None, kind: str, name: str) -> bool:
        return (namespace, kind, name) in self._targets

    def consumers(self, namespace: str | None, configmap: str) -> Sequence[Consumer]:
        return sorted(self._consumers.get((namespace, configmap), []), key=lambda c: c.name)


# Events ----------------------------------------------------------------------------------


async def _observe(kind: str, event: Mapping[str, Any], memo: Runtime, kwargs: Any) -> None:
    await memo.loaded.wait()
    memo.sweep_once(
        {
            DEPLOYMENT: set(kwargs["deployment_uids"].get(DEPLOYMENT, [])),
            CONFIGMAP: set(kwargs["configmap_uids"].get(CONFIGMAP, [])),
            HPA: set(kwargs["hpa_uids"].get(HPA, [])),
        }
    )
    memo.observer.observe(kind, event.get("type"), event["object"], KopfInventory(kwargs))


@kopf.on.event(*DEPLOYMENTS, registry=registry)
async def deployment_event(event: Mapping[str, Any], memo: Runtime, **kwargs: Any) -> None:
    await _observe(DEPLOYMENT, event, memo, kwargs)


@kopf.on.event(*CONFIGMAPS, registry=registry)
async def configmap_event(event: Mapping[str, Any], memo: Runtime, **kwargs: Any) -> None:
    await _observe(CONFIGMAP, event, memo, kwargs)


@kopf.on.event(*HPAS, registry=registry)
async def hpa_event(event: Mapping[str, Any], memo: Runtime, **kwargs: Any) -> None:
    await _observe(HPA, event, memo, kwargs)


def _report_policy(
    event: Mapping[str, Any],
    parsed: Policy | str,
    reference: str,
    resource: Any,
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


@kopf.on.event(*CHANGE_POLICIES, registry=registry)
def change_policy_event(
    event: Mapping[str, Any],
    name: str,
    namespace: str | None,
    spec: Mapping[str, Any],
    meta: Any,
    status: Mapping[str, Any],
    patch: kopf.Patch,
    resource: Any,
    memo: Runtime,
    **_: Any,
) -> None:
    parsed = _parsed(name, namespace, spec, meta)
    reference = f"ChangePolicy/{namespace}/{name}"
    _report_policy(event, parsed, reference, resource, namespace, name, status, patch, memo)


@kopf.on.event(*CLUSTER_CHANGE_POLICIES, registry=registry)
def cluster_change_policy_event(
    event: Mapping[str, Any],
    name: str,
    spec: Mapping[str, Any],
    meta: Any,
    status: Mapping[str, Any],
    patch: kopf.Patch,
    resource: Any,
    memo: Runtime,
    **_: Any,
) -> None:
    parsed = _parsed(name, None, spec, meta)
    reference = f"ClusterChangePolicy/{name}"
    _report_policy(event, parsed, reference, resource, None, name, status, patch, memo)


async def refresh_policy_counts(memo: Runtime) -> None:
    """Keep the counts in policy statuses current between the policies' own events."""
    from kopf._cogs.clients.patching import patch_obj  # kopf has no public patch call

    while True:
        await asyncio.sleep(memo.settings.policy_status_interval)
        for reference, ref in list(memo.policies.items()):
            counts = _counts(memo, reference)
            if counts == ref.written or memo.kopf_settings is None:
                continue
            patch = kopf.Patch(
                {"status": {"objectsMatched": counts[0], "changesRecorded": counts[1]}}
            )
            try:
                await patch_obj(
                    settings=memo.kopf_settings,
                    resource=ref.resource,
                    namespace=cast(Any, ref.namespace),
                    name=ref.name,
                    patch=patch,
                    logger=logger,
                )
            except Exception as error:  # a status refresh must never stop the operator
                logger.warning("Cannot refresh the status of %s: %s", reference, error)
                continue
            ref.written = counts
