"""Which service and environment a Kubernetes object belongs to, and the tags of its changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Only a type here: policies name the watched kinds, whose changes are tagged here.
    from changetrail_operator.policies import Policy

SERVICE_ANNOTATION = "changetrail.io/service"
ENVIRONMENT_ANNOTATION = "changetrail.io/environment"
PART_OF = "app.kubernetes.io/part-of"
APP_NAME = "app.kubernetes.io/name"


def service_name(
    *,
    name: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    namespace_annotations: Mapping[str, str],
    policy: Policy,
    is_workload: bool = True,
    consumer_services: Iterable[str] = (),
) -> str | None:
    """The service a change belongs to, most explicit first.

    The object's ``changetrail.io/service`` annotation, then its namespace's, then the policy's
    mapping, then the ``part-of``/``name`` labels, then (for workloads) the workload name. A
    ConfigMap without any of these belongs to the service of the first workload that uses it.
    """
    if annotations.get(SERVICE_ANNOTATION):
        return annotations[SERVICE_ANNOTATION]
    if namespace_annotations.get(SERVICE_ANNOTATION):
        return namespace_annotations[SERVICE_ANNOTATION]
    if policy.service_name:
        return policy.service_name
    if policy.service_from_label and labels.get(policy.service_from_label):
        return labels[policy.service_from_label]
    for label in (PART_OF, APP_NAME):
        if labels.get(label):
            return labels[label]
    if is_workload:
        return name
    for service in consumer_services:
        return service
    return None


def environment(
    *,
    policy: Policy,
    annotations: Mapping[str, str],
    namespace_annotations: Mapping[str, str],
    default: str,
) -> str:
    return (
        annotations.get(ENVIRONMENT_ANNOTATION)
        or policy.environment
        or namespace_annotations.get(ENVIRONMENT_ANNOTATION)
        or default
    )


def tags(cluster: str, namespace: str | None, kind: str, *extra: str) -> tuple[str, ...]:
    base = [f"cluster:{cluster}", f"kind:{kind.lower()}"]
    if namespace:
        base.insert(1, f"namespace:{namespace}")
    return (*base, *extra)
