"""How a change relates to the incident's services: directly, through a workload, or not at all.

Changes recorded by the operator carry ``details.kubernetes`` (namespace, kind, name) and tags
such as ``namespace:payments`` and ``kind:configmap``; a ConfigMap change lists the workloads
that consume it in ``details.consumers``. Producers differ and old rows may lack any of these
keys, so every reader here accepts missing or oddly typed values and simply learns less.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

from changetrail_api.correlation.model import CandidateChange, KubernetesRef, ServiceProfile


class Relation(Enum):
    """From the strongest evidence that a change concerns the incident's services down."""

    SAME_SERVICE = "same_service"
    WORKLOAD = "workload"
    CONSUMER = "consumer"
    NAMESPACE = "namespace"
    UNKNOWN_SERVICE = "unknown_service"
    NO_INCIDENT_SERVICE = "no_incident_service"
    OTHER_SERVICE = "other_service"


@dataclass(frozen=True, slots=True)
class Link:
    relation: Relation
    # The workload or namespace that made the link, for the reason text.
    via: str | None = None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _tag_value(tags: Iterable[Any], prefix: str) -> str | None:
    for tag in tags:
        if isinstance(tag, str) and tag.startswith(prefix) and len(tag) > len(prefix):
            return tag[len(prefix) :]
    return None


def kubernetes_ref(details: Mapping[str, Any] | None, tags: Iterable[Any]) -> KubernetesRef | None:
    """The Kubernetes object a stored change describes, or None when it names none."""
    tags = list(tags or ())
    section = details.get("kubernetes") if isinstance(details, Mapping) else None
    section = section if isinstance(section, Mapping) else {}
    raw_consumers = details.get("consumers") if isinstance(details, Mapping) else None
    consumers = tuple(
        item for item in (raw_consumers if isinstance(raw_consumers, list) else []) if _text(item)
    )
    namespace = _text(section.get("namespace")) or _tag_value(tags, "namespace:")
    kind = _text(section.get("kind")) or _tag_value(tags, "kind:")
    name = _text(section.get("name"))
    if namespace is None and kind is None and name is None and not consumers:
        return None
    return KubernetesRef(namespace=namespace, kind=kind, name=name, consumers=consumers)


def _workload_name(reference: str) -> str:
    # Consumers may be written "api", "payments/api" or "Deployment/api": the last part names it.
    return reference.rsplit("/", 1)[-1].lower()


@lru_cache(maxsize=1024)
def _known_workloads(service: ServiceProfile) -> frozenset[str]:
    # Ranking asks this for every candidate; profiles are immutable, so compute it once per
    # profile (bounded: the API builds new profiles for every request).
    return frozenset(n.lower() for n in service.workloads | service.names)


def _names_workload(service: ServiceProfile, name: str, namespace: str | None) -> bool:
    if service.namespaces and namespace is not None and namespace not in service.namespaces:
        return False
    return name.lower() in _known_workloads(service)


def link(change: CandidateChange, services: tuple[ServiceProfile, ...]) -> Link:
    """The strongest relation between the change and any of the incident's services."""
    if not services:
        return Link(Relation.NO_INCIDENT_SERVICE)
    if change.service_id is not None and any(change.service_id == s.id for s in services):
        return Link(Relation.SAME_SERVICE)
    ref = change.kubernetes
    if ref is not None:
        kind = (ref.kind or "").lower()
        is_workload = kind not in ("configmap", "secret")
        for service in services:
            if ref.name and is_workload and _names_workload(service, ref.name, ref.namespace):
                return Link(Relation.WORKLOAD, ref.name)
        for service in services:
            for consumer in ref.consumers:
                if _names_workload(service, _workload_name(consumer), ref.namespace):
                    return Link(Relation.CONSUMER, _workload_name(consumer))
        for service in services:
            if ref.namespace and ref.namespace in service.namespaces:
                return Link(Relation.NAMESPACE, ref.namespace)
    if change.service_id is None:
        return Link(Relation.UNKNOWN_SERVICE)
    return Link(Relation.OTHER_SERVICE)
