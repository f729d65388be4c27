"""What the observer needs to know about the cluster besides the object in hand.

The kopf handlers answer from kopf indices of namespaces and policies (filled before any change
is handled); tests answer from plain dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from changetrail_operator.policies import Policy


@dataclass(frozen=True, slots=True)
class NamespaceInfo:
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


class Inventory(Protocol):
    def namespace(self, name: str | None) -> NamespaceInfo: ...

    def policies(self) -> Sequence[Policy]: ...


@dataclass
class StaticInventory:
    namespaces: dict[str, NamespaceInfo] = field(default_factory=dict)
    policy_list: list[Policy] = field(default_factory=list)

    def namespace(self, name: str | None) -> NamespaceInfo:
        return self.namespaces.get(name or "", NamespaceInfo())

    def policies(self) -> Sequence[Policy]:
        return self.policy_list
