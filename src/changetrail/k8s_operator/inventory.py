"""What the observer needs to know about the cluster besides the object in hand.

The kopf handlers answer these questions from kopf indices (filled before any change is
handled); tests answer them from plain dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from changetrail.k8s_operator.policies import Policy


@dataclass(frozen=True, slots=True)
class NamespaceInfo:
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Consumer:
    """A workload that mounts or reads a ConfigMap."""

    kind: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


class Inventory(Protocol):
    def namespace(self, name: str | None) -> NamespaceInfo: ...

    def policies(self) -> Sequence[Policy]: ...

    def autoscaled(self, namespace: str | None, kind: str, name: str) -> bool: ...

    def consumers(self, namespace: str | None, configmap: str) -> Sequence[Consumer]: ...


@dataclass
class StaticInventory:
    namespaces: dict[str, NamespaceInfo] = field(default_factory=dict)
    policy_list: list[Policy] = field(default_factory=list)
    scale_targets: set[tuple[str | None, str, str]] = field(default_factory=set)
    configmap_consumers: dict[tuple[str | None, str], list[Consumer]] = field(default_factory=dict)

    def namespace(self, name: str | None) -> NamespaceInfo:
        return self.namespaces.get(name or "", NamespaceInfo())

    def policies(self) -> Sequence[Policy]:
        return self.policy_list

    def autoscaled(self, namespace: str | None, kind: str, name: str) -> bool:
        return (namespace, kind, name) in self.scale_targets

    def consumers(self, namespace: str | None, configmap: str) -> Sequence[Consumer]:
        return self.configmap_consumers.get((namespace, configmap), [])
