"""Which workloads use which ConfigMaps, and which are scaled by an HPA.

Kept from the watch events themselves rather than from kopf indices: kopf holds every handler
until each object of an indexed kind has been indexed, which grows with the square of the
object count and would stall the start in a cluster with 10,000 ConfigMaps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

WorkloadKey = tuple[str | None, str]  # (namespace, name)
# Label keys kept per workload: the ones service mapping reads (never whole label sets).
MAPPING_LABELS = ("app.kubernetes.io/part-of", "app.kubernetes.io/name")
ANNOTATION_PREFIX = "changetrail.io/"


@dataclass(frozen=True, slots=True)
class Consumer:
    """A workload that mounts or reads a ConfigMap."""

    kind: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


class Workloads:
    def __init__(self) -> None:
        self._configmaps: dict[WorkloadKey, tuple[str, ...]] = {}
        self._consumers: dict[WorkloadKey, dict[str, Consumer]] = {}
        self._scale_targets: dict[str, tuple[str | None, str, str]] = {}  # HPA uid → target

    def saw_workload(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        configmaps: Iterable[str],
    ) -> None:
        key = (namespace, name)
        used = tuple(configmaps)
        for configmap in set(self._configmaps.get(key, ())) - set(used):
            self._drop_consumer(namespace, configmap, name)
        consumer = Consumer(
            kind=kind,
            name=name,
            labels={k: v for k, v in labels.items() if k in MAPPING_LABELS},
            annotations={k: v for k, v in annotations.items() if k.startswith(ANNOTATION_PREFIX)},
        )
        for configmap in used:
            self._consumers.setdefault((namespace, configmap), {})[name] = consumer
        if used:
            self._configmaps[key] = used
        else:
            self._configmaps.pop(key, None)

    def forgot_workload(self, namespace: str | None, name: str) -> None:
        for configmap in self._configmaps.pop((namespace, name), ()):
            self._drop_consumer(namespace, configmap, name)

    def _drop_consumer(self, namespace: str | None, configmap: str, name: str) -> None:
        consumers = self._consumers.get((namespace, configmap))
        if consumers is not None:
            consumers.pop(name, None)
            if not consumers:
                del self._consumers[(namespace, configmap)]

    def consumers(self, namespace: str | None, configmap: str) -> list[Consumer]:
        found = self._consumers.get((namespace, configmap), {})
        return [found[name] for name in sorted(found)]

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
