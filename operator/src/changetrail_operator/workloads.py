"""Which workloads use which ConfigMaps and Secrets, and which are scaled by an HPA.

Kept from the watch events themselves rather than from kopf indices: kopf holds every handler
until each object of an indexed kind has been indexed, which grows with the square of the
object count and would stall the start in a cluster with 10,000 ConfigMaps.

A workload is known by its kind as well as its name: a StatefulSet and a Deployment may share
a name in one namespace, and each uses its own ConfigMaps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

WorkloadKey = tuple[str | None, str, str]  # (namespace, kind, name)
# What a workload uses: ("ConfigMap" or "Secret", name).
Used = tuple[str, str]
# Label keys kept per workload: the ones service mapping reads (never whole label sets).
MAPPING_LABELS = ("app.kubernetes.io/part-of", "app.kubernetes.io/name")
ANNOTATION_PREFIX = "changetrail.io/"


@dataclass(frozen=True, slots=True)
class Consumer:
    """A workload that mounts or reads a ConfigMap or a Secret."""

    kind: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return f"{self.kind}/{self.name}"


class Workloads:
    def __init__(self) -> None:
        self._uses: dict[WorkloadKey, tuple[Used, ...]] = {}
        # (namespace, "ConfigMap" or "Secret", name) → "Kind/name" → the consuming workload.
        self._consumers: dict[tuple[str | None, str, str], dict[str, Consumer]] = {}
        self._scale_targets: dict[str, tuple[str | None, str, str]] = {}  # HPA uid → target

    def saw_workload(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        configmaps: Iterable[str],
        secrets: Iterable[str] = (),
    ) -> None:
        key = (namespace, kind, name)
        used: tuple[Used, ...] = (
            *(("ConfigMap", configmap) for configmap in configmaps),
            *(("Secret", secret) for secret in secrets),
        )
        consumer = Consumer(
            kind=kind,
            name=name,
            labels={k: v for k, v in labels.items() if k in MAPPING_LABELS},
            annotations={k: v for k, v in annotations.items() if k.startswith(ANNOTATION_PREFIX)},
        )
        for item in set(self._uses.get(key, ())) - set(used):
            self._drop_consumer(namespace, item, consumer.reference)
        for used_kind, used_name in used:
            by_reference = self._consumers.setdefault((namespace, used_kind, used_name), {})
            by_reference[consumer.reference] = consumer
        if used:
            self._uses[key] = used
        else:
            self._uses.pop(key, None)

    def forgot_workload(self, kind: str, namespace: str | None, name: str) -> None:
        for item in self._uses.pop((namespace, kind, name), ()):
            self._drop_consumer(namespace, item, f"{kind}/{name}")

    def _drop_consumer(self, namespace: str | None, item: Used, reference: str) -> None:
        key = (namespace, *item)
        consumers = self._consumers.get(key)
        if consumers is not None:
            consumers.pop(reference, None)
            if not consumers:
                del self._consumers[key]

    def consumers(
        self, namespace: str | None, name: str, kind: str = "ConfigMap"
    ) -> list[Consumer]:
        """The workloads that use the ConfigMap (or Secret) ``name``, by kind and name."""
        found = self._consumers.get((namespace, kind, name), {})
        return [found[reference] for reference in sorted(found)]

    def saw_autoscaler(
        self, uid: str, namespace: str | None, target: tuple[str, str] | None
    ) -> None:
        if target is None:
            self._scale_targets.pop(uid, None)
        else:
            self._scale_targets[uid] = (namespace, target[0], target[1])

    def forgot_autoscaler(self, uid: str) -> None:
        self._scale_targets.pop(uid, None)

    def autoscaled(self, namespace: str | None, kind: str, name: str) -> bool:
        return (namespace, kind, name) in self._scale_targets.values()
